package credfile_test

import (
	"fmt"
	"os"

	"github.com/spgate/spgate/credfile"
)

// A credentials.yml of python-amazon-sp-api, checked and rewritten as the
// JSON secret the same library reads from AWS Secrets Manager.
func Example() {
	yml := []byte(`version: '1.0'
default:
  lwa_app_id: amzn1.application-oa2-client.0123456789abcdef0123456789abcdef
  lwa_client_secret: amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`)
	c, err := credfile.Parse(credfile.PythonYAML, yml, "default")
	if err == nil {
		err = c.Check(credfile.PythonYAML, false)
	}
	if err != nil {
		fmt.Println("credentials.yml", err) // names the line and key, never a value
		return
	}
	out, _ := credfile.Encode(credfile.JSON, c, credfile.EncodeOptions{})
	os.Stdout.Write(out)
	// Output:
	// {
	//   "LWA_APP_ID": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
	//   "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	// }
}

// A malformed file is refused with its line, and the value stays out of
// the message.
func ExampleParse_malformed() {
	env := []byte("LWA_APP_ID=amzn1.application-oa2-client.0123456789abcdef0123456789abcdef\nLWA_CLIENT_SECRET='amzn1.oa2-cs.v1.0123\n")
	_, err := credfile.Parse(credfile.PythonEnv, env, "")
	fmt.Println(".env", err)
	// Output:
	// .env line 2: LWA_CLIENT_SECRET has a quote that is not closed (a value must fit on its line)
}
