package main

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// doubleProvider is the provider half of the test double. Its configuration
// block accepts the common arguments of the real provider and ignores them.
type doubleProvider struct{}

func newProvider() provider.Provider { return doubleProvider{} }

func (doubleProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "google"
	resp.Version = Version
}

func (doubleProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = pschema.Schema{
		Description: "TEST DOUBLE of hashicorp/google: schemas only, no API calls.",
		Attributes: map[string]pschema.Attribute{
			"project":                     pschema.StringAttribute{Optional: true},
			"region":                      pschema.StringAttribute{Optional: true},
			"zone":                        pschema.StringAttribute{Optional: true},
			"credentials":                 pschema.StringAttribute{Optional: true, Sensitive: true},
			"access_token":                pschema.StringAttribute{Optional: true, Sensitive: true},
			"impersonate_service_account": pschema.StringAttribute{Optional: true},
			"billing_project":             pschema.StringAttribute{Optional: true},
			"user_project_override":       pschema.BoolAttribute{Optional: true},
			"request_timeout":             pschema.StringAttribute{Optional: true},
			"add_terraform_attribution_label": pschema.BoolAttribute{
				Optional: true,
			},
			"default_labels": pschema.MapAttribute{Optional: true, ElementType: types.StringType},
		},
	}
}

// Configure accepts any configuration: the double never builds an API client.
func (doubleProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (doubleProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

func (doubleProvider) Resources(context.Context) []func() resource.Resource {
	names := make([]string, 0, len(resourceSchemas))
	for name := range resourceSchemas {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]func() resource.Resource, 0, len(names))
	for _, name := range names {
		out = append(out, func() resource.Resource { return &fakeResource{typeName: name} })
	}
	return out
}
