package scim

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

type supported struct {
	Supported bool `json:"supported"`
}

// serviceProviderConfig says what this directory does (RFC 7643 §5):
// reading with filters, nothing else.
func (s *Server) serviceProviderConfig(c echo.Context) error {
	return writeJSON(c, http.StatusOK, map[string]any{
		"schemas":          []string{SchemaSPConfig},
		"documentationUri": "https://github.com/xszz/xszz/blob/main/docs/office.md",
		"patch":            supported{false},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxCount},
		"changePassword":   supported{false},
		"sort":             supported{false},
		"etag":             supported{false},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
			"description": "An access token from the client_credentials grant with the directory scope",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
		}},
		"meta": map[string]string{"resourceType": "ServiceProviderConfig", "location": s.base + "/ServiceProviderConfig"},
	})
}

func (s *Server) resourceTypes(c echo.Context) error {
	types := []any{
		map[string]any{
			"schemas": []string{SchemaResourceType}, "id": "User", "name": "User", "endpoint": "/Users",
			"description": "Staff account", "schema": SchemaUser,
			"schemaExtensions": []map[string]any{{"schema": SchemaOrgUser, "required": true}},
			"meta":             map[string]string{"resourceType": "ResourceType", "location": s.base + "/ResourceTypes/User"},
		},
		map[string]any{
			"schemas": []string{SchemaResourceType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
			"description": "Organisation unit", "schema": SchemaGroup,
			"schemaExtensions": []map[string]any{{"schema": SchemaOrgGroup, "required": true}},
			"meta":             map[string]string{"resourceType": "ResourceType", "location": s.base + "/ResourceTypes/Group"},
		},
	}
	return writeJSON(c, http.StatusOK, ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: len(types), StartIndex: 1, ItemsPerPage: len(types), Resources: types})
}

func attr(name, typ, desc string, multi bool) map[string]any {
	return map[string]any{
		"name": name, "type": typ, "multiValued": multi, "description": desc, "required": false,
		"caseExact": false, "mutability": "readOnly", "returned": "default", "uniqueness": "none",
	}
}

func (s *Server) schemas(c echo.Context) error {
	schema := func(id, name, desc string, attrs ...map[string]any) map[string]any {
		return map[string]any{
			"schemas": []string{SchemaSchema}, "id": id, "name": name, "description": desc, "attributes": attrs,
			"meta": map[string]string{"resourceType": "Schema", "location": s.base + "/Schemas/" + id},
		}
	}
	list := []any{
		schema(SchemaUser, "User", "Staff account",
			attr("userName", "string", "Mobile number (E.164), masked unless the client may see full numbers", false),
			attr("name", "complex", "Real name (formatted)", false),
			attr("displayName", "string", "Real name", false),
			attr("active", "boolean", "Whether the account may sign in", false),
			attr("phoneNumbers", "complex", "Work mobile number", true),
			attr("roles", "complex", "staff or admin", true),
			attr("groups", "complex", "The unit the account belongs to", true)),
		schema(SchemaOrgUser, "OrgUser", "xszz: the account's unit",
			attr("orgId", "string", "Unit id", false),
			attr("orgPath", "string", "Materialised path of the unit, /<root>/…/<unit>/", false),
			attr("status", "string", "pending, active or disabled", false),
			attr("phoneMasked", "boolean", "Whether phone numbers are masked", false)),
		schema(SchemaGroup, "Group", "Organisation unit", attr("displayName", "string", "Unit name", false)),
		schema(SchemaOrgGroup, "OrgGroup", "xszz: where the unit sits in the tree",
			attr("parent", "string", "Parent unit id", false),
			attr("level", "string", "ministry, province, city, county, school or department", false),
			attr("path", "string", "Materialised path, /<root>/…/<unit>/", false),
			attr("regionCode", "string", "GB/T 2260 region code", false),
			attr("kind", "string", "regular, planned-city, corps or central-university", false),
			attr("active", "boolean", "Whether the unit is active", false)),
	}
	return writeJSON(c, http.StatusOK, ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: len(list), StartIndex: 1, ItemsPerPage: len(list), Resources: list})
}
