package backchannel

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/otp/otptest"
)

// jsonSigner "signs" by encoding the claims, so the test reads them back.
type jsonSigner struct{}

func (jsonSigner) Sign(_ context.Context, _, typ string, claims any) (string, error) {
	b, err := json.Marshal(claims)
	return typ + " " + string(b), err
}

type oneClient struct{ c client.Client }

func (o oneClient) Get(context.Context, string) (*client.Client, error) { return &o.c, nil }

// TestARetriedLogoutKeepsTheTimeOfTheSignOut: the relying party is down
// at first; the retry, signed later, still says when the person was
// signed out, so the relying party does not end a session begun since.
func TestARetriedLogoutKeepsTheTimeOfTheSignOut(t *testing.T) {
	clk := otptest.NewClock()
	type post struct {
		status int
		claims map[string]any
	}
	posts := make(chan post, 4)
	var mu sync.Mutex
	answers := []int{http.StatusServiceUnavailable, http.StatusOK}
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		var p post
		tok := form.Get("logout_token")
		if len(tok) < len("logout+jwt ") || json.Unmarshal([]byte(tok[len("logout+jwt "):]), &p.claims) != nil {
			t.Errorf("logout token %q", tok)
		}
		mu.Lock()
		p.status, answers = answers[0], answers[1:]
		mu.Unlock()
		// Time passes before the retry is signed.
		clk.Advance(10 * time.Minute)
		w.WriteHeader(p.status)
		posts <- p
	}))
	defer rp.Close()

	n := New(Config{Issuer: "https://idp.example", Backoff: []time.Duration{time.Millisecond}},
		jsonSigner{}, oneClient{client.Client{ID: "xszz-cockpit", BackchannelLogoutURI: rp.URL}}, nil, clk.Now, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)

	signedOut := clk.Now()
	n.Notify(ctx, []string{"xszz-cockpit"}, "acct-42", "")
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusOK} {
		var p post
		select {
		case p = <-posts:
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d never came", i+1)
		}
		if p.status != want {
			t.Fatalf("delivery %d answered %d, want %d", i+1, p.status, want)
		}
		if iat := int64(p.claims["iat"].(float64)); iat != signedOut.Unix() {
			t.Errorf("delivery %d: iat %d, want the sign-out's %d", i+1, iat, signedOut.Unix())
		}
		// exp counts from the signing, ten minutes later for the retry.
		signed := signedOut.Add(time.Duration(i) * 10 * time.Minute)
		if exp := int64(p.claims["exp"].(float64)); exp != signed.Add(2*time.Minute).Unix() {
			t.Errorf("delivery %d: exp %d, want %d", i+1, exp, signed.Add(2*time.Minute).Unix())
		}
		if p.claims["sub"] != "acct-42" || p.claims["aud"] != "xszz-cockpit" {
			t.Errorf("delivery %d: claims %v", i+1, p.claims)
		}
	}
}
