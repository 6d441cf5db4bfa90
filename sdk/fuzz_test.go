package sdk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fuzzNow is the fixed clock of FuzzVerify; the corpus tokens are valid then.
var fuzzNow = time.Unix(1_800_000_000, 0)

const fuzzIssuer = "https://id.xszz.example"

// fuzzKeys loads the test-only private keys in testdata (never used
// anywhere else) so that corpus tokens stay valid across runs.
func fuzzKeys(t testing.TB) jose.JSONWebKeySet {
	b, err := os.ReadFile("testdata/fuzz_private_jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func fuzzVerifier(t testing.TB, set jose.JSONWebKeySet) *AccessTokenVerifier {
	var pub jose.JSONWebKeySet
	for _, k := range set.Keys {
		pub.Keys = append(pub.Keys, k.Public())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(pub)
	}))
	t.Cleanup(srv.Close)
	p, err := (&ProviderConfig{
		Endpoints: Endpoints{Issuer: fuzzIssuer, JWKSURI: srv.URL},
		Now:       func() time.Time { return fuzzNow },
	}).NewProvider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p.AccessTokenVerifier(&Config{ClientID: "office"})
}

func fuzzSign(t testing.TB, k jose.JSONWebKey, typ string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := obj.CompactSerialize()
	return raw
}

// fuzzSeeds are the tokens of the seed corpus: valid ones and the hostile
// shapes of the list.
func fuzzSeeds(t testing.TB, set jose.JSONWebKeySet) []string {
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": fuzzIssuer, "sub": "acct-42", "aud": []string{"office"}, "client_id": "office",
			"scope": "openid org", "iat": fuzzNow.Unix(), "exp": fuzzNow.Add(time.Hour).Unix(), "jti": "j1",
			"org":   map[string]any{"id": "320000", "level": "province", "path": []string{"000000", "320000"}},
			"roles": []string{"staff"}, "grants": []string{"cockpit"}}
		for k, v := range over {
			c[k] = v
		}
		return c
	}
	rsaKey, ecKey := set.Keys[0], set.Keys[1]
	good := fuzzSign(t, ecKey, "at+jwt", claims(nil))
	parts := strings.Split(good, ".")
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	hsIn := enc(map[string]string{"alg": "HS256", "typ": "at+jwt", "kid": "fuzz-rsa"}) + "." + parts[1]
	der, _ := x509.MarshalPKIXPublicKey(rsaKey.Public().Key) // HS256 keyed with the public key
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(hsIn))
	return []string{
		good,
		fuzzSign(t, rsaKey, "at+jwt", claims(nil)),
		fuzzSign(t, ecKey, "at+jwt", claims(map[string]any{"aud": "office", "nbf": fuzzNow.Unix()})),
		fuzzSign(t, ecKey, "JWT", claims(nil)),
		fuzzSign(t, ecKey, "at+jwt", claims(map[string]any{"exp": 1})),
		fuzzSign(t, ecKey, "at+jwt", claims(map[string]any{"iss": "https://evil"})),
		fuzzSign(t, rsaKey, "at+jwt", claims(map[string]any{"exp": "soon", "aud": 7})),
		enc(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + ".",
		hsIn + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)),
		enc(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "fuzz-ec", "jku": "https://evil"}) + "." + parts[1] + "." + parts[2],
		enc(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "other"}) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + enc(claims(map[string]any{"roles": []string{"admin"}})) + "." + parts[2],
		strings.Repeat(".", 10000),
		"a.b.c.d.e",
		"",
		parts[0] + ".." + parts[2],
	}
}

// FuzzVerify feeds arbitrary strings to the access-token verifier. It must
// never panic, and whatever it accepts must also verify under go-jose (a
// second implementation) with the same key and carry the expected claims.
// The seed corpus is in testdata/fuzz/FuzzVerify; regenerate it with
// XSZZ_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus.
func FuzzVerify(f *testing.F) {
	set := fuzzKeys(f)
	v := fuzzVerifier(f, set)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if c.Issuer != fuzzIssuer || !c.HasAudience("office") || c.Subject == "" || c.ID == "" || c.ClientID == "" {
			t.Fatalf("accepted token with claims %+v", c)
		}
		obj, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatalf("accepted, but go-jose cannot parse it: %v", err)
		}
		keys := set.Key(obj.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("accepted with kid %q", obj.Signatures[0].Header.KeyID)
		}
		if _, err := obj.Verify(keys[0].Public()); err != nil {
			t.Fatalf("accepted, but go-jose does not verify it: %v", err)
		}
	})
}

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("XSZZ_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set XSZZ_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz/FuzzVerify")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t, fuzzKeys(t)) {
		body := "go test fuzz v1\nstring(" + strconv.Quote(s) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzCorpusStillValid guards against a corpus that has gone stale: the
// first two seeds must verify.
func TestFuzzCorpusStillValid(t *testing.T) {
	v := fuzzVerifier(t, fuzzKeys(t))
	for _, name := range []string{"seed-00", "seed-01"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", name))
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(strings.SplitN(string(b), "\n", 2)[1], "\n")
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "string("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
