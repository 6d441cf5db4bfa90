package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/org"
)

// directoryClient registers a platform allowed to read root's subtree.
func (s *system) directoryClient(t *testing.T, root string, full bool) (id, secret string) {
	t.Helper()
	return s.newClient(t, func(sp *client.Spec) {
		sp.GrantTypes = []string{"client_credentials"}
		sp.Scopes = []string{"directory"}
		sp.RedirectURIs, sp.PostLogoutRedirectURIs = nil, nil
		sp.DirectoryRoot, sp.DirectoryFullPhones = root, full
	})
}

// clientToken runs the client credentials grant.
func (s *system) clientToken(t *testing.T, id, secret, scope string) string {
	t.Helper()
	r := s.postAs(t, id, secret, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %s", r)
	}
	tok, _ := r.json(t)["access_token"].(string)
	return tok
}

func (s *system) scim(t *testing.T, token, path string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, http.DefaultClient, req)
}

type scimList struct {
	Schemas      []string          `json:"schemas"`
	TotalResults int               `json:"totalResults"`
	StartIndex   int               `json:"startIndex"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

func decodeList(t *testing.T, r reply) scimList {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("list: %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type = %q, want application/scim+json (RFC 7644 §3.1)", ct)
	}
	var l scimList
	if err := json.Unmarshal([]byte(r.Body), &l); err != nil {
		t.Fatalf("decode list: %v", err)
	}
	if len(l.Schemas) != 1 || l.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Errorf("schemas = %v", l.Schemas)
	}
	return l
}

type scimUser struct {
	ID           string   `json:"id"`
	Schemas      []string `json:"schemas"`
	UserName     string   `json:"userName"`
	DisplayName  string   `json:"displayName"`
	Active       bool     `json:"active"`
	PhoneNumbers []struct {
		Value string `json:"value"`
	} `json:"phoneNumbers"`
	Roles []struct {
		Value string `json:"value"`
	} `json:"roles"`
	Org struct {
		OrgID   string `json:"orgId"`
		OrgPath string `json:"orgPath"`
	} `json:"urn:xszz:params:scim:schemas:extension:org:2.0:User"`
	Meta struct {
		ResourceType string `json:"resourceType"`
		LastModified string `json:"lastModified"`
		Location     string `json:"location"`
	} `json:"meta"`
}

// The SCIM directory shows a platform the accounts and units of the
// subtree it was registered for, in RFC 7644's shapes, with masked phone
// numbers unless allowed, incrementally by meta.lastModified, page by page.
func TestSCIMDirectory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		for _, o := range []org.Org{
			{ID: "329900", ParentID: "320000", Name: "测试市资助中心", Level: org.LevelCity, RegionCode: "329900"},
			{ID: "329901", ParentID: "329900", Name: "测试县资助中心", Level: org.LevelCounty, RegionCode: "329901"},
			{ID: "329800", ParentID: "320000", Name: "邻市资助中心", Level: org.LevelCity, RegionCode: "329800"},
		} {
			if _, err := sys.app.Orgs.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		city := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name, a.Role = "329900", "王市长", account.RoleAdmin })
		county := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "329901", "李县员" })
		sibling := sys.newAccount(t, func(a *account.Account) { a.OrgID = "329800" })

		id, secret := sys.directoryClient(t, "329900", false)
		tok := sys.clientToken(t, id, secret, "directory")

		l := decodeList(t, sys.scim(t, tok, "/scim/v2/Users"))
		if l.TotalResults != 2 || l.ItemsPerPage != 2 || l.StartIndex != 1 {
			t.Fatalf("users: total %d, per page %d, start %d; want 2, 2, 1", l.TotalResults, l.ItemsPerPage, l.StartIndex)
		}
		users := map[string]scimUser{}
		for _, raw := range l.Resources {
			var u scimUser
			if err := json.Unmarshal(raw, &u); err != nil {
				t.Fatal(err)
			}
			users[u.ID] = u
		}
		if _, ok := users[sibling.ID]; ok {
			t.Fatal("a user of a sibling city is in the directory")
		}
		u := users[city.ID]
		masked := city.Phone[:3] + "****" + city.Phone[7:]
		if u.UserName != masked || len(u.PhoneNumbers) != 1 || u.PhoneNumbers[0].Value != masked {
			t.Errorf("userName %q phones %v, want masked %q", u.UserName, u.PhoneNumbers, masked)
		}
		if strings.Contains(string(l.Resources[0]), city.Phone) || strings.Contains(string(l.Resources[1]), county.Phone) {
			t.Error("a full phone number leaked")
		}
		if u.DisplayName != "王市长" || !u.Active || u.Roles[0].Value != "admin" || u.Org.OrgID != "329900" ||
			u.Org.OrgPath != "/000000/320000/329900/" || u.Meta.ResourceType != "User" ||
			u.Meta.Location != sys.url+"/scim/v2/Users/"+city.ID || u.Schemas[0] != "urn:ietf:params:scim:schemas:core:2.0:User" {
			t.Errorf("user = %+v", u)
		}

		// Pagination: startIndex is 1-based (RFC 7644 §3.4.2.4).
		p2 := decodeList(t, sys.scim(t, tok, "/scim/v2/Users?startIndex=2&count=1"))
		if p2.TotalResults != 2 || p2.ItemsPerPage != 1 || p2.StartIndex != 2 {
			t.Errorf("page 2: %+v", p2)
		}
		if c0 := decodeList(t, sys.scim(t, tok, "/scim/v2/Users?count=0")); c0.TotalResults != 2 || len(c0.Resources) != 0 {
			t.Errorf("count=0: %+v", c0)
		}

		// Incremental sync: only what changed after the mark.
		mark := sys.clock.Now().UTC().Format(time.RFC3339)
		q := "/scim/v2/Users?filter=" + url.QueryEscape(`meta.lastModified gt "`+mark+`"`)
		if n := decodeList(t, sys.scim(t, tok, q)).TotalResults; n != 0 {
			t.Fatalf("changed since now: %d, want 0", n)
		}
		sys.clock.Advance(2 * time.Second)
		sys.disable(t, county)
		changed := decodeList(t, sys.scim(t, tok, q))
		if changed.TotalResults != 1 {
			t.Fatalf("changed since mark: %d, want 1", changed.TotalResults)
		}
		var cu scimUser
		if err := json.Unmarshal(changed.Resources[0], &cu); err != nil || cu.ID != county.ID || cu.Active {
			t.Errorf("changed user = %+v (%v), want %s inactive", cu, err, county.ID)
		}

		// Units as Groups with the org extension.
		gl := decodeList(t, sys.scim(t, tok, "/scim/v2/Groups"))
		if gl.TotalResults != 2 {
			t.Fatalf("groups: %d, want 2", gl.TotalResults)
		}
		var g struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
			Ext         struct {
				Parent, Level, Path, RegionCode string
			} `json:"urn:xszz:params:scim:schemas:extension:org:2.0:Group"`
		}
		if err := json.Unmarshal(gl.Resources[1], &g); err != nil {
			t.Fatal(err)
		}
		if g.ID != "329901" || g.Ext.Parent != "329900" || g.Ext.Level != "county" || g.Ext.Path != "/000000/320000/329900/329901/" || g.Ext.RegionCode != "329901" {
			t.Errorf("second group (parents first) = %+v", g)
		}

		// One resource; outside the subtree is as unknown.
		if r := sys.scim(t, tok, "/scim/v2/Users/"+city.ID); r.Status != http.StatusOK {
			t.Errorf("get user: %s", r)
		}
		for _, p := range []string{"/scim/v2/Users/" + sibling.ID, "/scim/v2/Groups/329800", "/scim/v2/Groups/320000"} {
			if r := sys.scim(t, tok, p); r.Status != http.StatusNotFound || !strings.Contains(r.Body, "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Errorf("%s outside the subtree: %s", p, r)
			}
		}
		for _, p := range []string{"/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas", "/scim/v2/ResourceTypes"} {
			if r := sys.scim(t, tok, p); r.Status != http.StatusOK || !strings.Contains(r.Body, "urn:ietf:params:scim:schemas:core:2.0:") {
				t.Errorf("%s: %s", p, r)
			}
		}

		// Bad requests answer in SCIM's error format (RFC 7644 §3.12).
		for _, c := range []struct{ query, scimType string }{
			{`filter=` + url.QueryEscape(`userName eq "x"`), "invalidFilter"},
			{`filter=` + url.QueryEscape(`meta.lastModified gt`), "invalidFilter"},
			{`filter=` + url.QueryEscape(`meta.lastModified gt "yesterday"`), "invalidValue"},
			{`startIndex=abc`, "invalidValue"},
		} {
			r := sys.scim(t, tok, "/scim/v2/Users?"+c.query)
			var e struct {
				Schemas          []string
				Status, ScimType string
			}
			_ = json.Unmarshal([]byte(r.Body), &e)
			if r.Status != http.StatusBadRequest || e.Status != "400" || e.ScimType != c.scimType || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("%s: %s", c.query, r)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, sys.url+"/scim/v2/Users", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := send(t, http.DefaultClient, req); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST Users: %s", r)
		}

		// A client registered for full numbers sees them.
		fid, fsecret := sys.directoryClient(t, "329901", true)
		full := decodeList(t, sys.scim(t, sys.clientToken(t, fid, fsecret, "directory"), "/scim/v2/Users"))
		if full.TotalResults != 1 || !strings.Contains(string(full.Resources[0]), county.E164) {
			t.Errorf("full-phone client: %+v", full)
		}
	})
}

// Only access tokens of client credentials with the directory scope open
// the directory: no token, a token without the scope, a person's access
// token, a refresh token, an ID token and garbage get 401 or 403.
func TestSCIMRefusesOtherCredentials(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		id, secret := sys.directoryClient(t, "320000", false)
		noScope := sys.clientToken(t, id, secret, "")

		person := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320000" })
		c := sys.newRP(t)
		tok, _ := c.signIn(sys.browser(t), person)
		idToken, _ := tok.Extra("id_token").(string)

		for _, tc := range []struct {
			name, token string
			status      int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"garbage", "not-a-token", http.StatusUnauthorized},
			{"without the directory scope", noScope, http.StatusForbidden},
			{"a person's access token", tok.AccessToken, http.StatusForbidden},
			{"a refresh token", tok.RefreshToken, http.StatusUnauthorized},
			{"an ID token", idToken, http.StatusUnauthorized},
		} {
			r := sys.scim(t, tc.token, "/scim/v2/Users")
			if r.Status != tc.status || r.Header.Get("WWW-Authenticate") == "" || !strings.Contains(r.Body, "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Errorf("%s: %s", tc.name, r)
			}
		}
	})
}
