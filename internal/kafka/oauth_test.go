package kafka

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/oauth2"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/publish"
	"github.com/turnstile-stream/turnstile-stream/internal/stream"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

const (
	testPrincipal = "turnstile-consumer@proj.iam.gserviceaccount.com"
	testAccess    = "ya29.SECRET-ACCESS-TOKEN"
)

// fakeClock is an injectable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// fakeSource hands out Google access tokens that expire life after the
// clock's time, or fails with err.
type fakeSource struct {
	clock *fakeClock
	life  time.Duration
	err   error
	calls int
}

func (s *fakeSource) Token() (*oauth2.Token, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return &oauth2.Token{AccessToken: testAccess, Expiry: s.clock.t.Add(s.life)}, nil
}

func fixedPrincipal(context.Context) (string, error) { return testPrincipal, nil }

// TestTokenForm checks the token against the form of Google's handlers
// (oauth.go): base64url(header).base64url(claims).base64url(access token).
func TestTokenForm(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	g := newGCPTokens(&fakeSource{clock: clock, life: time.Hour}, fixedPrincipal, clock.now)
	tok, err := g.Token()
	if err != nil {
		t.Fatal(err)
	}
	exp := clock.t.Add(time.Hour)
	if !tok.Expiration.Equal(exp) || tok.Principal != testPrincipal || len(tok.Extensions) != 0 {
		t.Errorf("token expiration %s, principal %q, extensions %v; want %s, %q, none", tok.Expiration, tok.Principal, tok.Extensions, exp, testPrincipal)
	}
	// RFC 7628's bearer token syntax, which librdkafka enforces.
	if !regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`).MatchString(tok.TokenValue) {
		t.Errorf("token %q is not an RFC 7628 bearer token", tok.TokenValue)
	}
	parts := strings.Split(tok.TokenValue, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	var dec [3]string
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("part %d is not unpadded base64url: %v", i+1, err)
		}
		dec[i] = string(b)
	}
	if want := `{"typ":"JWT","alg":"GOOG_OAUTH2_TOKEN"}`; dec[0] != want {
		t.Errorf("header = %s, want %s", dec[0], want)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(dec[1]), &claims); err != nil {
		t.Fatalf("claims %s: %v", dec[1], err)
	}
	want := map[string]any{
		"exp": float64(exp.Unix()), "iat": float64(clock.t.Unix()),
		"iss": "Google", "scope": "kafka", "sub": testPrincipal,
	}
	if len(claims) != len(want) {
		t.Errorf("claims = %v, want exactly %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if dec[2] != testAccess {
		t.Errorf("third part = %q, want the access token", dec[2])
	}
}

// TestTokenRefreshedBeforeExpiry plays librdkafka's schedule (a refresh at
// 80% of the lifetime left) on a fake clock: every token handed over has at
// least refreshMargin left, so every refresh comes before the expiry of the
// token in use, and the access token is fetched again only near its expiry.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	for _, tt := range []struct {
		name      string
		life      time.Duration
		minMargin time.Duration // the least lifetime a handed token may have
		maxCalls  int
	}{
		{"hour tokens", time.Hour, refreshMargin, 12}, // 10 h: a fetch per hour, and the first
		{"tokens shorter than the margin", 3 * time.Minute, 0, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			src := &fakeSource{clock: clock, life: tt.life}
			g := newGCPTokens(src, fixedPrincipal, clock.now)
			end := clock.t.Add(10 * time.Hour)
			var inUse time.Time // the expiry of the token librdkafka holds
			for clock.t.Before(end) {
				if !inUse.IsZero() && !clock.t.Before(inUse) {
					t.Fatalf("refresh at %s, after the token in use expired at %s", clock.t, inUse)
				}
				tok, err := g.Token()
				if err != nil {
					t.Fatal(err)
				}
				left := tok.Expiration.Sub(clock.t)
				if left <= 0 || left < tt.minMargin {
					t.Fatalf("at %s the token handed over has %s left, want at least %s", clock.t, left, tt.minMargin)
				}
				inUse = tok.Expiration
				clock.t = clock.t.Add(left * 8 / 10) // librdkafka's next refresh
			}
			if src.calls < 2 || src.calls > tt.maxCalls {
				t.Errorf("%d fetches of the access token in 10 h, want 2..%d", src.calls, tt.maxCalls)
			}
		})
	}
}

// fakeClient records what a client's token refresh handed to librdkafka.
type fakeClient struct {
	refuse   error
	tokens   []ckafka.OAuthBearerToken
	failures []string
}

func (c *fakeClient) SetOAuthBearerToken(t ckafka.OAuthBearerToken) error {
	if c.refuse != nil {
		return c.refuse
	}
	c.tokens = append(c.tokens, t)
	return nil
}

func (c *fakeClient) SetOAuthBearerTokenFailure(s string) error {
	c.failures = append(c.failures, s)
	return nil
}

// TestRefreshFailureReportedWithoutToken checks that a refresh without a
// token reports the error to librdkafka and logs it, and that neither the
// report nor the log holds the token or the access token.
func TestRefreshFailureReportedWithoutToken(t *testing.T) {
	for _, tt := range []struct {
		name     string
		srcErr   error
		life     time.Duration
		refuse   error
		wantFail string
	}{
		{name: "token source fails", srcErr: errors.New("metadata server: 503"), life: time.Hour, wantFail: "metadata server: 503"},
		{name: "token source returns an expired token", life: -time.Minute, wantFail: "returned a token that expired"},
		{name: "librdkafka refuses the token", life: time.Hour, refuse: errors.New("Local: Invalid argument"), wantFail: "librdkafka refused the token: Local: Invalid argument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			src := &fakeSource{clock: clock, life: time.Hour}
			var logs syncBuffer
			a := &auth{tokens: newGCPTokens(src, fixedPrincipal, clock.now), client: "c1",
				log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			// A first refresh succeeds, so a token exists to leak.
			c := &fakeClient{}
			a.refresh(c)
			if len(c.tokens) != 1 || len(c.failures) != 0 {
				t.Fatalf("first refresh: tokens %d, failures %v; want 1, none", len(c.tokens), c.failures)
			}
			good := c.tokens[0].TokenValue
			// The cached access token nears its expiry: the next refresh
			// fetches again, and that fails.
			clock.t = clock.t.Add(time.Hour - refreshMargin)
			src.err, src.life, c.refuse = tt.srcErr, tt.life, tt.refuse
			a.refresh(c)
			if len(c.failures) != 1 || !strings.Contains(c.failures[0], tt.wantFail) || !strings.Contains(c.failures[0], OAuthProviderKey) {
				t.Fatalf("failures reported to librdkafka = %q, want one naming %s and %q", c.failures, OAuthProviderKey, tt.wantFail)
			}
			got := logs.String()
			if !strings.Contains(got, "level=ERROR") || !strings.Contains(got, tt.wantFail) || !strings.Contains(got, "client=c1") {
				t.Errorf("log lacks the error (ERROR, client=c1, %q):\n%s", tt.wantFail, got)
			}
			for _, secret := range []string{testAccess, good, base64.RawURLEncoding.EncodeToString([]byte(testAccess))} {
				if strings.Contains(got, secret) || strings.Contains(c.failures[0], secret) {
					t.Errorf("the log or the failure holds a secret %q:\n%s\n%s", secret, got, c.failures[0])
				}
			}
		})
	}
}

func TestRefreshWithoutProvider(t *testing.T) {
	var a *auth
	c := &fakeClient{}
	a.refresh(c)
	if len(c.failures) != 1 || !strings.Contains(c.failures[0], OAuthProviderKey+" is not set") {
		t.Errorf("failures = %q, want one saying %s is not set", c.failures, OAuthProviderKey)
	}
}

func TestPrincipalError(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	src := &fakeSource{clock: clock, life: time.Hour}
	g := newGCPTokens(src, func(context.Context) (string, error) { return "", errors.New("no principal") }, clock.now)
	if _, err := g.Token(); err == nil || err.Error() != "no principal" {
		t.Errorf("Token() err = %v, want the principal's error", err)
	}
	if src.calls != 0 {
		t.Errorf("the access token was fetched without a principal")
	}
}

func TestTokenFetchTimeout(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	block := make(chan struct{})
	defer close(block)
	g := newGCPTokens(blockingSource(block), fixedPrincipal, clock.now)
	g.timeout = time.Millisecond
	if _, err := g.Token(); err == nil || !strings.Contains(err.Error(), "no answer from the token source within 1ms") {
		t.Errorf("Token() err = %v, want a timeout", err)
	}
}

type blockingSource chan struct{}

func (b blockingSource) Token() (*oauth2.Token, error) { <-b; return nil, errors.New("closed") }

func TestPrincipalFromJSON(t *testing.T) {
	for _, tt := range []struct{ js, want string }{
		{``, ""},
		{`{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com"}`, "sa@p.iam.gserviceaccount.com"},
		{`{"type":"impersonated_service_account","service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/imp@p.iam.gserviceaccount.com:generateAccessToken"}`, "imp@p.iam.gserviceaccount.com"},
		{`{"type":"authorized_user","client_id":"x"}`, ""},
		{`not json`, ""},
	} {
		if got := principalFromJSON([]byte(tt.js)); got != tt.want {
			t.Errorf("principalFromJSON(%s) = %q, want %q", tt.js, got, tt.want)
		}
	}
}

// TestOAuthSettings checks what turnstile.oauthbearer.provider adds to a
// client's configuration, what it refuses, and that librdkafka never sees it.
func TestOAuthSettings(t *testing.T) {
	for _, tt := range []struct {
		name    string
		props   Properties
		want    map[string]string // in the client's configuration
		wantErr string
	}{
		{"none", Properties{"security.protocol": "SSL"}, map[string]string{"security.protocol": "SSL"}, ""},
		{"gcp adds SASL_SSL and OAUTHBEARER", Properties{OAuthProviderKey: "gcp"},
			map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanisms": "OAUTHBEARER"}, ""},
		{"gcp with the same values", Properties{OAuthProviderKey: "gcp", "security.protocol": "sasl_ssl", "sasl.mechanism": "OAUTHBEARER"},
			map[string]string{"security.protocol": "sasl_ssl", "sasl.mechanism": "OAUTHBEARER"}, ""},
		{"unknown provider", Properties{OAuthProviderKey: "aws"}, nil, "turnstile.oauthbearer.provider=aws: unknown provider; the only one is gcp"},
		{"another protocol", Properties{OAuthProviderKey: "gcp", "security.protocol": "SSL"}, nil, "needs security.protocol=SASL_SSL, but the file sets security.protocol=SSL"},
		{"another mechanism", Properties{OAuthProviderKey: "gcp", "sasl.mechanisms": "PLAIN"}, nil, "needs sasl.mechanisms=OAUTHBEARER, but the file sets sasl.mechanisms=PLAIN"},
		{"another mechanism, alias", Properties{OAuthProviderKey: "gcp", "sasl.mechanism": "SCRAM-SHA-256"}, nil, "sasl.mechanism=SCRAM-SHA-256"},
		{"oidc", Properties{OAuthProviderKey: "gcp", "sasl.oauthbearer.method": "oidc"}, nil, "sasl.oauthbearer.method=oidc: remove it"},
		{"unsecure jwt", Properties{OAuthProviderKey: "gcp", "enable.sasl.oauthbearer.unsecure.jwt": "true"}, nil, "enable.sasl.oauthbearer.unsecure.jwt=true: remove it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer fakeProvider(t, &fakeTokens{})()
			if err := tt.props.CheckAuth(); !errMatches(err, tt.wantErr) {
				t.Errorf("CheckAuth() = %v, want %q", err, tt.wantErr)
			}
			cm, a, err := clientAuth(producerConfig(tt.props), slog.New(slog.DiscardHandler))
			if !errMatches(err, tt.wantErr) {
				t.Fatalf("clientAuth() err = %v, want %q", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if _, ok := cm[OAuthProviderKey]; ok {
				t.Errorf("%s reaches librdkafka", OAuthProviderKey)
			}
			if (a != nil) != (tt.props[OAuthProviderKey] != "") {
				t.Errorf("auth = %v with provider %q", a, tt.props[OAuthProviderKey])
			}
			for k, v := range tt.want {
				if cm[k] != v {
					t.Errorf("%s = %v, want %s", k, cm[k], v)
				}
			}
		})
	}
}

func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestLoadRefusesConflictingAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.properties")
	if err := os.WriteFile(path, []byte("bootstrap.servers=b:9092\nturnstile.oauthbearer.provider=gcp\nsasl.mechanisms=PLAIN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "needs sasl.mechanisms=OAUTHBEARER") {
		t.Errorf("Load() err = %v, want one naming the file and the conflict", err)
	}
}

// fakeTokens counts the tokens it makes; they expire in an hour.
type fakeTokens struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeTokens) Token() (ckafka.OAuthBearerToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	now := time.Now()
	v, err := kafkaToken(testAccess, testPrincipal, now, now.Add(time.Hour))
	return ckafka.OAuthBearerToken{TokenValue: v, Expiration: now.Add(time.Hour), Principal: testPrincipal}, err
}

func (f *fakeTokens) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeProvider makes the gcp provider hand out f's tokens until the returned
// function is called.
func fakeProvider(t *testing.T, f *fakeTokens) func() {
	t.Helper()
	old := providers[OAuthProviderGCP]
	providers[OAuthProviderGCP] = func() (bearerTokens, error) { return f, nil }
	return func() { providers[OAuthProviderGCP] = old }
}

// TestEveryClientAnswersTokenRefresh checks, with real librdkafka clients
// and a fake provider, that each client the package makes is given a token
// when it is created and answers librdkafka's refresh event (the one it
// raises when the client starts) from its event loop: two tokens each.
// librdkafka accepts a token only when the client's mechanism is
// OAUTHBEARER, so no failure may be logged.
func TestEveryClientAnswersTokenRefresh(t *testing.T) {
	props := func() Properties {
		return Properties{"bootstrap.servers": "127.0.0.1:1", "enable.metrics.push": "false", OAuthProviderKey: OAuthProviderGCP}
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T, log *slog.Logger) (close func(), err error)
	}{
		{"producer", func(t *testing.T, log *slog.Logger) (func(), error) {
			var c publish.Counters
			p, err := NewProducer(ProducerConfig{Props: props(), Topic: "t", Counters: &c, Logger: log})
			if err != nil {
				return nil, err
			}
			return func() { _ = p.Close(t.Context()) }, nil
		}},
		{"group consumer", func(t *testing.T, log *slog.Logger) (func(), error) {
			sink := &lake.Sink{Bucket: lake.NewMemBucket(), Layout: lake.Layout{Prefix: "turnstile"}}
			spec, _ := window.NewSpec(time.Minute, time.Minute, time.Minute)
			proc := stream.New(stream.Config{Spec: spec, Sink: sink, Side: stream.LakeSide{Sink: sink}})
			g, err := OpenGroup(t.Context(), GroupConfig{Props: props(), Group: "g", Client: "c", Topic: "t", Logger: log})
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); _ = g.Run(ctx, stream.NewDriver(proc, stream.DriverConfig{})) }()
			return func() { cancel(); <-done; _ = g.Close() }, nil
		}},
		{"dead-letter producer", func(t *testing.T, log *slog.Logger) (func(), error) {
			dl, err := OpenDeadLetter(props(), "c", "t", log)
			if err != nil {
				return nil, err
			}
			return dl.Close, nil
		}},
		{"emit producer", func(t *testing.T, log *slog.Logger) (func(), error) {
			// No broker: InitTransactions waits until ctx's deadline,
			// while the producer's event loop runs.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if e, err := NewEmitter(ctx, emitConfig(props(), "c", "txn"), "t", log); err == nil {
					e.Close()
				}
			}()
			return func() { cancel(); <-done }, nil
		}},
		{"dashboard reader", func(t *testing.T, log *slog.Logger) (func(), error) {
			r, err := OpenReader(ReaderConfig{Props: props(), Topic: "t", Logger: log})
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); _ = r.Run(ctx, nil) }()
			return func() { cancel(); <-done; _ = r.Close() }, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := &fakeTokens{}
			defer fakeProvider(t, tokens)()
			var buf syncBuffer
			closeClient, err := tc.open(t, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for tokens.count() < 2 {
				if time.Now().After(deadline) {
					closeClient()
					t.Fatalf("%d token(s) made within 10s, want 2 (at creation, then for the refresh event):\n%s", tokens.count(), buf.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			closeClient()
			got := buf.String()
			if strings.Contains(got, "token refresh failed") {
				t.Errorf("a token was refused:\n%s", got)
			}
			if strings.Contains(got, testAccess) || strings.Contains(got, base64.RawURLEncoding.EncodeToString([]byte(testAccess))) {
				t.Errorf("the access token was logged:\n%s", got)
			}
		})
	}
}
