package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// A small vocabulary for writing provider schemas compactly in schemas.go.

// mode says whether the configuration must, may or cannot set an attribute.
type mode int

const (
	req  mode = iota // Required
	opt              // Optional
	comp             // Computed (set by the provider only)
	optc             // Optional + Computed (provider fills it when unset)
)

func (m mode) flags() (required, optional, computed bool) {
	return m == req, m == opt || m == optc, m == comp || m == optc
}

func str(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.StringAttribute{Required: r, Optional: o, Computed: c}
}

func sensitiveStr(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.StringAttribute{Required: r, Optional: o, Computed: c, Sensitive: true}
}

func num(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.Int64Attribute{Required: r, Optional: o, Computed: c}
}

func float(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.Float64Attribute{Required: r, Optional: o, Computed: c}
}

func boolean(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.BoolAttribute{Required: r, Optional: o, Computed: c}
}

func strSet(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.SetAttribute{Required: r, Optional: o, Computed: c, ElementType: types.StringType}
}

func strList(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.ListAttribute{Required: r, Optional: o, Computed: c, ElementType: types.StringType}
}

func strMap(m mode) schema.Attribute {
	r, o, c := m.flags()
	return schema.MapAttribute{Required: r, Optional: o, Computed: c, ElementType: types.StringType}
}

// attrs and blocks are shorthands for the maps a nested object holds.
type (
	attrs  = map[string]schema.Attribute
	blocks = map[string]schema.Block
)

// many is the "no upper bound" value for a block's maxItems.
const many = 0

// listBlock is a repeated block (schema.ListNestedBlock) holding between
// minItems and maxItems elements (maxItems 0: unbounded).
func listBlock(minItems, maxItems int, a attrs, b blocks) schema.Block {
	return schema.ListNestedBlock{
		NestedObject: schema.NestedBlockObject{Attributes: a, Blocks: b},
		Validators:   []validator.List{sizeBetween{minItems, maxItems}},
	}
}

// setBlock is an unordered repeated block (schema.SetNestedBlock).
func setBlock(minItems, maxItems int, a attrs, b blocks) schema.Block {
	return schema.SetNestedBlock{
		NestedObject: schema.NestedBlockObject{Attributes: a, Blocks: b},
		Validators:   []validator.Set{sizeBetween{minItems, maxItems}},
	}
}

// resourceWith builds a resource schema; every resource gets a computed "id",
// as in the real provider.
func resourceWith(a attrs, b blocks) schema.Schema {
	all := attrs{"id": str(comp)}
	for k, v := range a {
		all[k] = v
	}
	return schema.Schema{
		Description: "TEST DOUBLE: schema subset of the hashicorp/google resource of the same name.",
		Attributes:  all,
		Blocks:      b,
	}
}

// sizeBetween enforces a block's minItems/maxItems, as the real provider does.
type sizeBetween struct{ min, max int }

func (s sizeBetween) Description(context.Context) string {
	if s.max == many {
		return fmt.Sprintf("at least %d block(s)", s.min)
	}
	return fmt.Sprintf("between %d and %d block(s)", s.min, s.max)
}

func (s sizeBetween) MarkdownDescription(ctx context.Context) string { return s.Description(ctx) }

func (s sizeBetween) check(n int, unknown bool) string {
	if unknown {
		return ""
	}
	if n < s.min || (s.max != many && n > s.max) {
		return fmt.Sprintf("expected %s, got %d", s.Description(context.Background()), n)
	}
	return ""
}

func (s sizeBetween) ValidateList(_ context.Context, r validator.ListRequest, resp *validator.ListResponse) {
	if msg := s.check(len(r.ConfigValue.Elements()), r.ConfigValue.IsUnknown()); msg != "" {
		resp.Diagnostics.AddAttributeError(r.Path, "Invalid number of blocks", msg)
	}
}

func (s sizeBetween) ValidateSet(_ context.Context, r validator.SetRequest, resp *validator.SetResponse) {
	if msg := s.check(len(r.ConfigValue.Elements()), r.ConfigValue.IsUnknown()); msg != "" {
		resp.Diagnostics.AddAttributeError(r.Path, "Invalid number of blocks", msg)
	}
}

// withObjectValidator adds v to the nested object of a listBlock.
func withObjectValidator(b schema.Block, v validator.Object) schema.Block {
	lb := b.(schema.ListNestedBlock)
	lb.NestedObject.Validators = append(lb.NestedObject.Validators, v)
	return lb
}

// exactlyOneBlock is the provider's ExactlyOneOf over sibling blocks: the
// object must hold exactly one of the named blocks (a non-empty list).
type exactlyOneBlock []string

func (e exactlyOneBlock) Description(context.Context) string {
	return fmt.Sprintf("exactly one of the blocks %v", []string(e))
}

func (e exactlyOneBlock) MarkdownDescription(ctx context.Context) string { return e.Description(ctx) }

func (e exactlyOneBlock) ValidateObject(_ context.Context, r validator.ObjectRequest, resp *validator.ObjectResponse) {
	if r.ConfigValue.IsNull() || r.ConfigValue.IsUnknown() {
		return
	}
	set := 0
	for _, name := range e {
		v, ok := r.ConfigValue.Attributes()[name]
		if !ok {
			continue
		}
		if v.IsUnknown() {
			return
		}
		if l, ok := v.(types.List); ok && !l.IsNull() && len(l.Elements()) > 0 {
			set++
		}
	}
	if set != 1 {
		resp.Diagnostics.AddAttributeError(r.Path, "Invalid combination of blocks", fmt.Sprintf("expected %s, got %d of them", e.Description(context.Background()), set))
	}
}
