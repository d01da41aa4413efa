package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
)

// TestEmulateTLSAndJSON runs `spgate emulate --tls --json` on a free port
// and talks to it as an unmodified client would: trusting the printed CA and
// resolving Amazon's names to the emulator.
func TestEmulateTLSAndJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"emulate", "--addr", "127.0.0.1:0", "--json", "--tls", "--ca-file", ca, "--seed", "3", "--orders", "2"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	var info demo.EmulatorInfo
	if err := json.NewDecoder(pr).Decode(&info); err != nil {
		cancel()
		t.Fatalf("emulate --json printed no JSON: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("exit code %d after cancel", code)
		}
	}()
	if info.CAFile != ca || info.ClientSecret == "" || !strings.HasPrefix(info.RefreshToken, "Atzr|") || len(info.Sellers) != 3 {
		t.Fatalf("info %+v", info)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	u, _ := url.Parse(info.URL)
	addr := u.Host
	client := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) { // "--resolve"
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {info.Sellers[1].RefreshToken}, "client_id": {info.ClientID}, "client_secret": {info.ClientSecret}}
	res, err := client.Post("https://api.amazon.com/auth/o2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("LWA over TLS as api.amazon.com: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d", res.StatusCode)
	}
	// The EU seller's token works on the EU host name and not on NA.
	for host, want := range map[string]int{"sellingpartnerapi-eu.amazon.com": 200, "sellingpartnerapi-na.amazon.com": 403} {
		req, _ := http.NewRequest("GET", "https://"+host+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("x-amz-access-token", tok.AccessToken)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d: %s", host, res.StatusCode, want, b)
		}
	}
	// Without Amazon's host names, each region has its own port, as
	// SPGATE_ENDPOINT lists them.
	if !strings.Contains(info.Endpoint, "eu="+info.RegionURLs["eu"]) || info.RegionURLs["eu"] == info.URL {
		t.Fatalf("endpoint %q, region URLs %v", info.Endpoint, info.RegionURLs)
	}
	plain := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for region, want := range map[string]int{"eu": 200, "na": 403} {
		req, _ := http.NewRequest("GET", info.RegionURLs[region]+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("x-amz-access-token", tok.AccessToken)
		res, err := plain.Do(req)
		if err != nil {
			t.Fatalf("%s port: %v", region, err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("EU seller on the %s port: %d, want %d", region, res.StatusCode, want)
		}
	}
}

func TestEmulateFlags(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"emulate", "--time-scale", "0"}, strings.NewReader(""), &out, &out); code != ExitUsage {
		t.Errorf("--time-scale 0: exit %d, want %d", code, ExitUsage)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"emulate", "--addr", "not-an-address"}, strings.NewReader(""), &out, &out); code != ExitUsage {
		t.Errorf("bad --addr: exit %d: %s", code, out.String())
	}
}

// docSection returns the commands of the first ```sh block after heading
// in a document, without comments, one per line.
func docSection(t *testing.T, doc, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", doc, heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	var cmds []string
	for _, line := range strings.Split(s[start+6:start+6+end], "\n") {
		if j := strings.Index(line, "#"); j >= 0 {
			line = line[:j]
		}
		if line = strings.TrimSpace(line); line != "" {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// The rotation walk-through of docs/emulator.md, run as written against
// moto_server: emulate --sqs-endpoint creates the demo app's queue there,
// setup aws --queue adopts it, rotate rotates. Two things differ, each
// because this moto_server checks signatures (INITIAL_NO_AUTH_ACTION_COUNT):
// its administrator's keys stand for "testing", and they are in the
// environment before emulate starts. Ports are free ones.
func TestEmulateSQSRotationAsDocumented(t *testing.T) {
	m := mototest.Start(t)
	dir := e2eHome(t)
	cmds := docSection(t, "../../docs/emulator.md", "## Rotate the client secret offline (with moto_server)")
	want := []string{"moto_server -p 5000 &", "spgate emulate --sqs-endpoint http://127.0.0.1:5000 &",
		"export SPGATE_AWS_ENDPOINT=http://127.0.0.1:5000", "export AWS_ACCESS_KEY_ID=testing", "export AWS_SECRET_ACCESS_KEY=testing",
		"spgate setup aws --app main --queue", "spgate rotate --app main"}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the document's commands changed; update this test:\n%s", strings.Join(cmds, "\n"))
	}
	sub := strings.NewReplacer("http://127.0.0.1:5000", m.Endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_ACCESS_KEY_ID="+m.Admin.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=testing", "AWS_SECRET_ACCESS_KEY="+m.Admin.SecretAccessKey)
	t.Setenv("AWS_ACCESS_KEY_ID", m.Admin.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Admin.SecretAccessKey)
	t.Setenv("AWS_REGION", mototest.Region)

	var info demo.EmulatorInfo
	for _, c := range cmds {
		c = strings.TrimSuffix(strings.TrimSpace(sub.Replace(c)), " &")
		f := strings.Fields(c)
		switch {
		case f[0] == "moto_server":
			// Started above (mototest), on a free port.
		case f[0] == "export":
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
		case len(f) > 1 && f[1] == "emulate":
			info = startEmulate(t, append(f[1:], "--addr", "127.0.0.1:0", "--json", "--orders", "2"))
			if info.QueueURL == "" || info.SQSEndpoint != m.Endpoint {
				t.Fatalf("emulate --sqs-endpoint: %+v", info)
			}
			// The vault with app main, as the document's earlier section
			// makes it.
			t.Setenv(EnvEndpoint, info.Endpoint)
			sf := filepath.Join(dir, "secret.txt")
			_ = os.WriteFile(sf, []byte(info.ClientSecret), 0o600)
			e2eMust(t, 0, "", "app", "add", "main", "--app-id", info.AppID, "--client-id", info.ClientID, "--client-secret-file", sf, "--region", "na")
		default:
			out, errs := e2eMust(t, 0, "", f[1:]...)
			if f[1] == "rotate" && !strings.Contains(out, "client secret v2") {
				t.Errorf("rotate output:\n%s%s", e2eMask(out), e2eMask(errs))
			}
		}
	}
	// The vault holds the emulator's new secret.
	res, err := http.Get(info.URL + "/_admin/demo")
	if err != nil {
		t.Fatal(err)
	}
	var demo struct{ ClientSecret string }
	_ = json.NewDecoder(res.Body).Decode(&demo)
	res.Body.Close()
	if demo.ClientSecret == info.ClientSecret {
		t.Fatal("Amazon did not rotate")
	}
	out, _ := e2eMust(t, 0, "", "app", "show", "main", "--json")
	if !strings.Contains(out, `"clientSecretVersion": 2`) || !strings.Contains(out, secret.New(demo.ClientSecret).Hint()) {
		t.Errorf("vault after rotate:\n%s", e2eMask(out))
	}
}

// startEmulate runs spgate emulate with args until the test ends and
// returns what it printed with --json.
func startEmulate(t *testing.T, args []string) demo.EmulatorInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errb testenv.Buffer
	go func() {
		done <- Main(ctx, args, strings.NewReader(""), pw, &errb)
		pw.Close()
	}()
	var info demo.EmulatorInfo
	if err := json.NewDecoder(pr).Decode(&info); err != nil {
		cancel()
		t.Fatalf("emulate printed no JSON: %v\n%s", err, errb.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("emulate exit %d: %s", code, errb.String())
		}
	})
	return info
}

// A bad --sqs-endpoint is a usage error; an endpoint where no SQS answers
// says so and names the flag.
func TestEmulateSQSEndpointErrors(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"emulate", "--sqs-endpoint", "ftp://x"}, strings.NewReader(""), &out, &out); code != ExitUsage {
		t.Errorf("ftp endpoint: exit %d: %s", code, out.String())
	}
	out.Reset()
	e2eHome(t)
	if code := Main(context.Background(), []string{"emulate", "--addr", "127.0.0.1:0", "--sqs-endpoint", "http://127.0.0.1:1"}, strings.NewReader(""), &out, &out); code != ExitConfig ||
		!strings.Contains(out.String(), "--sqs-endpoint http://127.0.0.1:1") {
		t.Errorf("unreachable endpoint: exit %d: %s", code, out.String())
	}
}
