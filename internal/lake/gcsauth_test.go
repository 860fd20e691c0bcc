package lake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAttemptTimeoutClientAuthenticates checks the HTTP client that
// NewGCSBucket builds for GCS (no STORAGE_EMULATOR_HOST): it finds
// Application Default Credentials (here a service account key file whose
// token_uri is a local token server), asks for the scopes storage.NewClient
// asks for, and sends the token it got with every request. Against an
// emulator it sends no credentials.
func TestAttemptTimeoutClientAuthenticates(t *testing.T) {
	var mu sync.Mutex
	var scopes []string
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The assertion is a JWT signed with the key; its claims name the scopes.
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			http.Error(w, "no JWT assertion", http.StatusBadRequest)
			return
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			Scope string `json:"scope"`
		}
		if err == nil {
			err = json.Unmarshal(payload, &claims)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		scopes = strings.Fields(claims.Scope)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"test-token","token_type":"Bearer","expires_in":3600}`))
	}))
	defer tokenSrv.Close()
	var auths []string
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer apiSrv.Close()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "turnstile-test",
		"private_key_id": "test-key",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "lake@turnstile-test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      tokenSrv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)

	get := func(t *testing.T) {
		t.Helper()
		hc, err := attemptTimeoutClient(t.Context(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(apiSrv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	t.Run("gcs", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", "")
		get(t)
		mu.Lock()
		defer mu.Unlock()
		if got := auths[len(auths)-1]; got != "Bearer test-token" {
			t.Errorf("Authorization %q, want the token from the credentials", got)
		}
		slices.Sort(scopes)
		if want := []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/devstorage.full_control"}; !slices.Equal(scopes, want) {
			t.Errorf("token asked for scopes %q, want %q", scopes, want)
		}
	})
	t.Run("emulator", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(apiSrv.URL, "http://"))
		get(t)
		mu.Lock()
		defer mu.Unlock()
		if got := auths[len(auths)-1]; got != "" {
			t.Errorf("Authorization %q against an emulator, want none", got)
		}
	})
}
