package main

import (
	"context"
	"fmt"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// fakeResource serves one resource type of the double. Plans come from the
// framework (computed attributes missing from the configuration are planned
// as unknown); applies are in memory only.
type fakeResource struct {
	typeName string
}

var _ resource.Resource = (*fakeResource)(nil)

func (r *fakeResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.typeName
}

func (r *fakeResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = resourceSchemas[r.typeName]()
}

func (r *fakeResource) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	// The project is empty, as at a first apply (emptyproject.go).
	if why, err := checkEmptyProject(r.typeName, req.Plan.Raw); err != nil {
		resp.Diagnostics.AddError("test double: cannot read the plan", err.Error())
		return
	} else if why != "" {
		resp.Diagnostics.AddError("test double (empty project, as at a first apply): "+r.typeName+" would be refused", why)
		return
	}
	filled, err := fillUnknowns(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("test double: cannot fake create", err.Error())
		return
	}
	resp.State.Raw = filled
}

// Read keeps the prior state: nothing exists outside the state file.
func (r *fakeResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *fakeResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	filled, err := fillUnknowns(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("test double: cannot fake update", err.Error())
		return
	}
	resp.State.Raw = filled
}

// Delete succeeds; the framework then drops the resource from state.
func (r *fakeResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// fillUnknowns replaces every unknown value in a planned object with a
// placeholder so that the "applied" state is wholly known.
func fillUnknowns(v tftypes.Value) (tftypes.Value, error) {
	return tftypes.Transform(v, func(path *tftypes.AttributePath, val tftypes.Value) (tftypes.Value, error) {
		if val.IsKnown() {
			return val, nil
		}
		return placeholder(path, val.Type())
	})
}

// placeholder returns a known stand-in value of type t for the attribute at path.
func placeholder(path *tftypes.AttributePath, t tftypes.Type) (tftypes.Value, error) {
	switch {
	case t.Is(tftypes.String):
		return tftypes.NewValue(t, "double-"+lastName(path)), nil
	case t.Is(tftypes.Number):
		return tftypes.NewValue(t, big.NewFloat(0)), nil
	case t.Is(tftypes.Bool):
		return tftypes.NewValue(t, false), nil
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		return tftypes.NewValue(t, []tftypes.Value{}), nil
	case t.Is(tftypes.Map{}):
		return tftypes.NewValue(t, map[string]tftypes.Value{}), nil
	case t.Is(tftypes.Object{}):
		return tftypes.NewValue(t, nil), nil
	}
	return tftypes.Value{}, fmt.Errorf("no placeholder for type %s at %s", t, path)
}

// lastName is the name of the innermost attribute in path ("value" if none).
func lastName(path *tftypes.AttributePath) string {
	steps := path.Steps()
	for i := len(steps) - 1; i >= 0; i-- {
		if name, ok := steps[i].(tftypes.AttributeName); ok {
			return string(name)
		}
	}
	return "value"
}
