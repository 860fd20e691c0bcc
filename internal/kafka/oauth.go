package kafka

// SASL/OAUTHBEARER with Google's Application Default Credentials, for Google
// Cloud Managed Service for Apache Kafka (docs/producer.md, "Kafka
// configuration").
//
// The property turnstile.oauthbearer.provider=gcp (OAuthProviderKey) in the
// properties file turns it on; it is turnstile-stream's own and is never
// passed to librdkafka. Properties.ConfigMap then adds
// security.protocol=SASL_SSL and sasl.mechanisms=OAUTHBEARER when the file
// does not set them, and every client this package makes is created through
// newProducer or newConsumer, which give the client its first token before
// it returns and an *auth whose refresh answers librdkafka's
// OAuthBearerTokenRefresh events (each client's event loop passes them on).
//
// The token is the one the service documents for clients that are not Java
// (Google's open-source client auth, github.com/googleapis/managedkafka:
// GcpLoginCallbackHandler.java and kafka_gcp_credentials_server.py): three
// base64url parts (no padding) joined by '.':
//
//	{"typ":"JWT","alg":"GOOG_OAUTH2_TOKEN"}
//	{"exp":EXPIRY,"iat":NOW,"iss":"Google","scope":"kafka","sub":PRINCIPAL}
//	the Google OAuth2 access token itself
//
// where EXPIRY is the access token's expiry and NOW the time the token is
// made (Unix seconds), PRINCIPAL the service account's e-mail. librdkafka
// gets the same expiry and principal, and asks for a new token at 80% of the
// lifetime left; a cached access token with less than refreshMargin left is
// replaced first, so a refresh always hands over a token that is still valid.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// OAuthProviderKey is the properties-file key that turns on SASL/OAUTHBEARER
// with a token provider of turnstile-stream's. Its only value is
// OAuthProviderGCP. It is not a librdkafka property: the clients never see it.
const OAuthProviderKey = "turnstile.oauthbearer.provider"

// OAuthProviderGCP makes the clients authenticate with the Google access
// tokens of the Application Default Credentials (on a VM: its service
// account), in the form Managed Service for Apache Kafka takes.
const OAuthProviderGCP = "gcp"

// PrincipalEnv, when set, names the principal (a service account e-mail) of
// credentials whose principal cannot be read from them, e.g. a user's
// gcloud login. Google's own local auth server honours the same variable.
const PrincipalEnv = "GOOGLE_MANAGED_KAFKA_AUTH_PRINCIPAL"

const (
	// refreshMargin: a cached access token with less than this left is
	// replaced before it is handed to librdkafka.
	refreshMargin = 5 * time.Minute
	// fetchTimeout bounds one fetch of an access token or of the principal,
	// so that a client's event loop is never held longer.
	fetchTimeout = 10 * time.Second
	// cloudPlatformScope is the scope of the access tokens (as in Google's
	// handlers).
	cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
)

// oauthSettings checks the OAUTHBEARER settings of a configuration, whose
// values get returns ("" when unset), and returns the provider it asks for
// ("" for none). With a provider, security.protocol must be SASL_SSL or unset,
// sasl.mechanisms (or its alias sasl.mechanism) OAUTHBEARER or unset, and
// librdkafka must not make tokens itself (sasl.oauthbearer.method=oidc,
// enable.sasl.oauthbearer.unsecure.jwt=true).
func oauthSettings(get func(string) string) (string, error) {
	provider := get(OAuthProviderKey)
	switch provider {
	case "":
		return "", nil
	case OAuthProviderGCP:
	default:
		return "", fmt.Errorf("%s=%s: unknown provider; the only one is %s", OAuthProviderKey, provider, OAuthProviderGCP)
	}
	if v := get("security.protocol"); v != "" && !strings.EqualFold(v, "SASL_SSL") {
		return "", fmt.Errorf("%s=%s needs security.protocol=SASL_SSL, but the file sets security.protocol=%s: remove it or set SASL_SSL", OAuthProviderKey, provider, v)
	}
	for _, k := range []string{"sasl.mechanisms", "sasl.mechanism"} {
		if v := get(k); v != "" && v != "OAUTHBEARER" {
			return "", fmt.Errorf("%s=%s needs sasl.mechanisms=OAUTHBEARER, but the file sets %s=%s: remove it or set OAUTHBEARER", OAuthProviderKey, provider, k, v)
		}
	}
	if v := get("sasl.oauthbearer.method"); v != "" && !strings.EqualFold(v, "default") {
		return "", fmt.Errorf("%s=%s makes the tokens, but the file sets sasl.oauthbearer.method=%s: remove it", OAuthProviderKey, provider, v)
	}
	if v := get("enable.sasl.oauthbearer.unsecure.jwt"); v == "true" {
		return "", fmt.Errorf("%s=%s makes the tokens, but the file sets enable.sasl.oauthbearer.unsecure.jwt=true: remove it", OAuthProviderKey, provider)
	}
	return provider, nil
}

// CheckAuth reports a properties file whose OAUTHBEARER settings conflict
// (see oauthSettings), with an error that says what to change.
func (p Properties) CheckAuth() error {
	_, err := oauthSettings(func(k string) string { return p[k] })
	return err
}

// bearerTokens makes OAUTHBEARER tokens.
type bearerTokens interface {
	Token() (ckafka.OAuthBearerToken, error)
}

// tokenSetter is the part of a librdkafka client that takes OAUTHBEARER
// tokens (*ckafka.Producer and *ckafka.Consumer have it).
type tokenSetter interface {
	SetOAuthBearerToken(ckafka.OAuthBearerToken) error
	SetOAuthBearerTokenFailure(errstr string) error
}

// auth answers the token refresh events of one client.
type auth struct {
	tokens bearerTokens
	client string // client.id, for the log
	log    *slog.Logger
}

// refresh gives c a new token. When there is none (the token source failed,
// or librdkafka refused the token), it tells librdkafka why with
// SetOAuthBearerTokenFailure, so that librdkafka asks again 10 s later, and
// logs the error at Error level. The token itself is never logged. A nil
// auth (OAUTHBEARER set in the file without OAuthProviderKey) reports that
// no provider is configured.
func (a *auth) refresh(c tokenSetter) {
	if a == nil {
		_ = c.SetOAuthBearerTokenFailure("librdkafka asked for an OAUTHBEARER token, but " + OAuthProviderKey + " is not set in the properties file")
		return
	}
	tok, err := a.tokens.Token()
	if err == nil {
		if err = c.SetOAuthBearerToken(tok); err != nil {
			err = fmt.Errorf("librdkafka refused the token: %w", err)
		}
	}
	if err != nil {
		_ = c.SetOAuthBearerTokenFailure(fmt.Sprintf("%s: %v", OAuthProviderKey, err))
		a.log.Error("kafka OAUTHBEARER token refresh failed; librdkafka asks again in 10s", "client", a.client, "err", err)
		return
	}
	a.log.Debug("kafka OAUTHBEARER token set", "client", a.client, "principal", tok.Principal, "expires", tok.Expiration)
}

// providers make the token source of each provider; tests replace them.
var providers = map[string]func() (bearerTokens, error){OAuthProviderGCP: gcpProvider}

// clientAuth returns cm without turnstile-stream's own keys and, when cm asks
// for a token provider, the auth of the client that cm makes.
func clientAuth(cm ckafka.ConfigMap, log *slog.Logger) (ckafka.ConfigMap, *auth, error) {
	get := func(k string) string {
		if v, ok := cm[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	provider, err := oauthSettings(get)
	if err != nil {
		return nil, nil, err
	}
	out := make(ckafka.ConfigMap, len(cm))
	for k, v := range cm {
		if k != OAuthProviderKey {
			out[k] = v
		}
	}
	if provider == "" {
		return out, nil, nil
	}
	tokens, err := providers[provider]()
	if err != nil {
		return nil, nil, err
	}
	return out, &auth{tokens: tokens, client: get("client.id"), log: log}, nil
}

// newProducer creates a librdkafka producer from cm (made by
// Properties.ConfigMap). When cm asks for a token provider, the producer has
// its first token (or librdkafka knows why not) when newProducer returns, and
// its event loop must pass every ckafka.OAuthBearerTokenRefresh to the
// returned auth's refresh.
func newProducer(cm ckafka.ConfigMap, log *slog.Logger) (*ckafka.Producer, *auth, error) {
	cm, a, err := clientAuth(cm, log)
	if err != nil {
		return nil, nil, err
	}
	p, err := ckafka.NewProducer(&cm)
	if err != nil {
		return nil, nil, err
	}
	if a != nil {
		a.refresh(p)
	}
	return p, a, nil
}

// newConsumer is newProducer for a consumer: OAuthBearerTokenRefresh events
// arrive through its Poll.
func newConsumer(cm ckafka.ConfigMap, log *slog.Logger) (*ckafka.Consumer, *auth, error) {
	cm, a, err := clientAuth(cm, log)
	if err != nil {
		return nil, nil, err
	}
	c, err := ckafka.NewConsumer(&cm)
	if err != nil {
		return nil, nil, err
	}
	if a != nil {
		a.refresh(c)
	}
	return c, a, nil
}

// gcp is the process's one GCP token source, shared by its clients.
var gcp struct {
	sync.Mutex
	tokens *gcpTokens
}

// gcpProvider returns the GCP token source over the Application Default
// Credentials. It is an error when there are none.
func gcpProvider() (bearerTokens, error) {
	gcp.Lock()
	defer gcp.Unlock()
	if gcp.tokens != nil {
		return gcp.tokens, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	creds, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: no Application Default Credentials (run on a VM with a service account, or set GOOGLE_APPLICATION_CREDENTIALS): %w", OAuthProviderKey, OAuthProviderGCP, err)
	}
	// The credentials' source caches tokens until 10 s before expiry; ask it
	// to replace them refreshMargin before, as gcpTokens does.
	src := oauth2.ReuseTokenSourceWithExpiry(nil, creds.TokenSource, refreshMargin)
	gcp.tokens = newGCPTokens(src, adcPrincipal(creds.JSON), time.Now)
	return gcp.tokens, nil
}

// adcPrincipal returns the function that finds the principal of credentials
// whose JSON is js (empty on a VM): PrincipalEnv when set; else the
// client_email of a service account key; else the service account an
// impersonation URL names; else, on Google Compute Engine, the e-mail of the
// VM's default service account from the metadata server.
func adcPrincipal(js []byte) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if p := os.Getenv(PrincipalEnv); p != "" {
			return p, nil
		}
		if p := principalFromJSON(js); p != "" {
			return p, nil
		}
		if len(js) == 0 && metadata.OnGCEWithContext(ctx) {
			email, err := metadata.EmailWithContext(ctx, "default")
			if err != nil {
				return "", fmt.Errorf("service account e-mail from the metadata server: %w", err)
			}
			return email, nil
		}
		return "", fmt.Errorf("cannot tell the principal of the Application Default Credentials: use a service account (the VM's, a key, or impersonation) or set %s to its e-mail", PrincipalEnv)
	}
}

// principalFromJSON returns the service account e-mail that credentials JSON
// names: a key's client_email, or the account of a
// service_account_impersonation_url (".../serviceAccounts/EMAIL:generateAccessToken");
// "" when it names none.
func principalFromJSON(js []byte) string {
	if len(js) == 0 {
		return ""
	}
	var f struct {
		ClientEmail      string `json:"client_email"`
		ImpersonationURL string `json:"service_account_impersonation_url"`
	}
	if json.Unmarshal(js, &f) != nil {
		return ""
	}
	if f.ClientEmail != "" {
		return f.ClientEmail
	}
	if _, rest, ok := strings.Cut(f.ImpersonationURL, "/serviceAccounts/"); ok {
		email, _, _ := strings.Cut(rest, ":")
		return email
	}
	return ""
}

// gcpTokens makes the tokens of Managed Service for Apache Kafka (see the
// top of this file) from Google access tokens. It is safe for concurrent
// use; its clients share one cached access token.
type gcpTokens struct {
	src       oauth2.TokenSource
	principal func(context.Context) (string, error)
	now       func() time.Time
	timeout   time.Duration

	mu     sync.Mutex
	cached *oauth2.Token
	sub    string
}

func newGCPTokens(src oauth2.TokenSource, principal func(context.Context) (string, error), now func() time.Time) *gcpTokens {
	return &gcpTokens{src: src, principal: principal, now: now, timeout: fetchTimeout}
}

// Token returns a token whose Expiration is the access token's expiry and
// whose Principal is the service account's e-mail. The access token is
// fetched again when the cached one has less than refreshMargin left. An
// error never holds the access token.
func (g *gcpTokens) Token() (ckafka.OAuthBearerToken, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sub == "" {
		ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
		sub, err := g.principal(ctx)
		cancel()
		if err != nil {
			return ckafka.OAuthBearerToken{}, err
		}
		g.sub = sub
	}
	now := g.now()
	if g.cached == nil || !now.Before(g.cached.Expiry.Add(-refreshMargin)) {
		t, err := g.fetch()
		if err != nil {
			return ckafka.OAuthBearerToken{}, fmt.Errorf("access token from Google: %w", err)
		}
		switch {
		case t.AccessToken == "":
			return ckafka.OAuthBearerToken{}, errors.New("access token from Google: the token source returned an empty token")
		case t.Expiry.IsZero():
			return ckafka.OAuthBearerToken{}, errors.New("access token from Google: the token source returned a token without an expiry")
		case !now.Before(t.Expiry):
			return ckafka.OAuthBearerToken{}, fmt.Errorf("access token from Google: the token source returned a token that expired at %s", t.Expiry.UTC().Format(time.RFC3339))
		}
		g.cached = t
	}
	value, err := kafkaToken(g.cached.AccessToken, g.sub, now, g.cached.Expiry)
	if err != nil {
		return ckafka.OAuthBearerToken{}, err
	}
	return ckafka.OAuthBearerToken{TokenValue: value, Expiration: g.cached.Expiry, Principal: g.sub}, nil
}

// fetch asks the source for a token, giving up after g.timeout (the fetch
// then finishes in the background).
func (g *gcpTokens) fetch() (*oauth2.Token, error) {
	type result struct {
		t   *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		t, err := g.src.Token()
		done <- result{t, err}
	}()
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err == nil && r.t == nil {
			r.err = errors.New("the token source returned no token")
		}
		return r.t, r.err
	case <-timer.C:
		return nil, fmt.Errorf("no answer from the token source within %s", g.timeout)
	}
}

// tokenHeader and tokenClaims are the first two parts of the token, in the
// field order of Google's handlers.
type tokenHeader struct {
	Typ string `json:"typ"`
	Alg string `json:"alg"`
}

type tokenClaims struct {
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Sub   string `json:"sub"`
}

// kafkaToken returns the token value for access token access of principal
// sub, made at now and expiring at exp.
func kafkaToken(access, sub string, now, exp time.Time) (string, error) {
	h, err := json.Marshal(tokenHeader{Typ: "JWT", Alg: "GOOG_OAUTH2_TOKEN"})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(tokenClaims{Exp: exp.Unix(), Iat: now.Unix(), Iss: "Google", Scope: "kafka", Sub: sub})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString([]byte(access)), nil
}
