// Command google-provider-double is a TEST DOUBLE of the hashicorp/google
// Terraform provider. It is NOT the Google provider and it never talks to
// Google Cloud.
//
// The offline Terraform tests (scripts/tf-test.sh) cannot download the real
// provider: there is no Terraform registry here and the real provider cannot be
// built from the Go module proxy. OpenTofu still needs a provider binary to
// learn resource schemas for `validate`, `plan` and `tofu test` with
// `mock_provider "google"`. This double carries the schema of just the
// resources that terraform/ uses (names, types, required/optional/computed,
// block nesting and block cardinality), so typos and missing required
// arguments fail offline.
//
// Apply is faked in memory: Create and Update store the planned values and
// fill anything still unknown with a placeholder ("double-<attribute>", 0,
// false or an empty collection). That lets terratest read `tofu output` from a
// throw-away local state without any cloud.
//
// Real schema validation happens in .github/workflows/ci.yml, which runs
// `terraform init` and `terraform validate` against the real provider from the
// registry. When terraform/ starts using a new resource type or argument, add
// it to schemas.go, copying the name and mode from the provider's documentation.
//
// scripts/tools.sh builds this binary into a filesystem mirror under
// .cache/tools/ for both registry.opentofu.org and registry.terraform.io.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// Version is the version the double announces. It is deliberately not a real
// release of the Google provider (so it can never be mistaken for one) but it
// satisfies the `~> 7.0` constraint in terraform/versions.tf.
const Version = "7.999.0"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers such as delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), newProvider, providerserver.ServeOpts{
		Address: "registry.terraform.io/hashicorp/google",
		Debug:   *debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
