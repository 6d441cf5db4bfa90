package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/org"
)

// Scope org puts the same "org" claim and "roles" into the ID token,
// userinfo and the access token, path from the root down to the unit;
// without the scope none of them carries it.
func TestOrgClaimInEveryToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		if _, err := sys.app.Orgs.Create(ctx, org.Org{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"}); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"id": "320100", "name": "南京市学生资助管理中心", "level": "city", "region_code": "320100",
			"path": []any{"000000", "320000", "320100"}, "kind": "regular",
		}
		p := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320100" })

		c := sys.newRP(t)
		tok, idt := c.signIn(sys.browser(t), p)
		var idClaims map[string]any
		if err := idt.Claims(&idClaims); err != nil {
			t.Fatal(err)
		}
		ui := sys.userinfo(t, http.MethodGet, tok.AccessToken)
		if ui.Status != http.StatusOK {
			t.Fatalf("userinfo: %s", ui)
		}
		for name, claims := range map[string]map[string]any{
			"ID token": idClaims, "userinfo": ui.json(t), "access token": payload(t, tok.AccessToken),
		} {
			if !reflect.DeepEqual(claims["org"], want) {
				t.Errorf("%s org claim = %v, want %v", name, claims["org"], want)
			}
			if !reflect.DeepEqual(claims["roles"], []any{"staff"}) {
				t.Errorf("%s roles = %v, want [staff]", name, claims["roles"])
			}
		}

		// A refresh restates the claims as they are now: a renamed unit
		// shows its new name in the new tokens.
		if err := sys.app.Orgs.Update(ctx, "320100", func(o *org.Org) error { o.Name = "南京市教育局学生资助中心"; return nil }); err != nil {
			t.Fatal(err)
		}
		fresh, err := c.refresh(tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		for name, raw := range map[string]string{"access token": fresh.AccessToken, "ID token": fresh.Extra("id_token").(string)} {
			o, _ := payload(t, raw)["org"].(map[string]any)
			if o["name"] != "南京市教育局学生资助中心" {
				t.Errorf("refreshed %s names the unit %v, want its new name", name, o["name"])
			}
		}

		plain := sys.newRP(t)
		plain.oauth.Scopes = []string{oidc.ScopeOpenID, "profile"}
		tok, idt = plain.signIn(sys.browser(t), p)
		idClaims = nil
		if err := idt.Claims(&idClaims); err != nil {
			t.Fatal(err)
		}
		for name, claims := range map[string]map[string]any{
			"ID token": idClaims, "userinfo": sys.userinfo(t, http.MethodGet, tok.AccessToken).json(t), "access token": payload(t, tok.AccessToken),
		} {
			if _, ok := claims["org"]; ok {
				t.Errorf("%s carries org without the org scope", name)
			}
			if _, ok := claims["roles"]; ok {
				t.Errorf("%s carries roles without the org scope", name)
			}
		}
	})
}

// payload decodes a JWT's claims without verifying it (the verifying
// tests are elsewhere).
func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
