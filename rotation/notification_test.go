package rotation

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// refNewSecret is the notification of reference §6, with a full secret.
const refNewSecret = `{"notificationVersion":"1.0","notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET",
 "payloadVersion":"2023-11-30","eventTime":"2024-01-10T22:09:17.456Z",
 "payload":{"applicationOAuthClientNewSecret":{"clientId":"amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
   "newClientSecret":"amzn1.oa2-cs.v1.aaaabbbbccccddddeeeeffff00001111aaaabbbbccccddddeeeeffff00001111","newClientSecretExpiryTime":"2024-07-08T22:09:17.198Z",
   "oldClientSecretExpiryTime":"2024-01-17T22:09:17.180Z"}},
 "notificationMetadata":{"applicationId":"amzn1.sp.solution.x","subscriptionId":"s",
   "publishTime":"2024-01-10T22:09:18.706Z","notificationId":"n-1"}}`

func TestParseNotification(t *testing.T) {
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": refNewSecret})
	expiry := `{"notificationVersion":"1.0","notificationType":"APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY","payloadVersion":"2023-11-30","eventTime":"2024-01-10T22:09:17.456Z",
	 "payload":{"applicationOAuthClientSecretExpiry":{"clientId":"c1","clientSecretExpiryTime":"2024-01-17T22:09:17.180Z","clientSecretExpiryReason":"PERIODIC_ROTATION"}},"notificationMetadata":{}}`
	for _, tc := range []struct {
		name, body string
		wantType   string
		wantErr    bool
	}{
		{"raw", refNewSecret, TypeNewSecret, false},
		{"sns envelope", string(sns), TypeNewSecret, false},
		{"expiry", expiry, TypeSecretExpiry, false},
		{"other type", `{"notificationType":"ANY_OFFER_CHANGED","payload":{}}`, "", true},
		{"not json", "hello", "", true},
		{"bad time", strings.Replace(refNewSecret, "2024-07-08T22:09:17.198Z", "soon", 1), "", true},
		{"no secret", strings.Replace(refNewSecret, "newClientSecret\"", "x\"", 1), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNotification(tc.body)
			if tc.wantErr {
				if !errors.Is(err, ErrNotRotation) {
					t.Fatalf("err = %v", err)
				}
				if strings.Contains(err.Error(), "aaaabbbb") {
					t.Fatal("error quotes the secret")
				}
				return
			}
			if err != nil || n.Type != tc.wantType {
				t.Fatalf("%+v %v", n, err)
			}
		})
	}
	n, _ := ParseNotification(refNewSecret)
	if !n.NewExpiry.Equal(time.Date(2024, 7, 8, 22, 9, 17, 198e6, time.UTC)) || !n.OldExpiry.Equal(time.Date(2024, 1, 17, 22, 9, 17, 180e6, time.UTC)) ||
		n.ClientID != "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef" || n.NotificationID != "n-1" {
		t.Errorf("parsed %+v", n)
	}
	if s := strings.Join([]string{n.NewSecret.String(), func() string { b, _ := json.Marshal(n); return string(b) }()}, " "); strings.Contains(s, "aaaabbbb") {
		t.Error("Notification prints its secret")
	}
}
