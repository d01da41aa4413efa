package rotation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spgate/spgate/secret"
)

// Notification types this package understands.
const (
	TypeNewSecret    = "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
	TypeSecretExpiry = "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"
)

// AmazonAccountID is the AWS account Amazon publishes SP-API notifications
// from; the queue policy must let it send messages.
const AmazonAccountID = "437568002678"

// Notification is a parsed rotation notification: either a new secret or an
// expiry notice. Secret fields are secret.String and never print.
type Notification struct {
	Type          string
	ClientID      string
	ApplicationID string
	EventTime     time.Time
	// NotificationID is Amazon's id (duplicates share it).
	NotificationID string

	// NewSecret, NewExpiry and OldExpiry are set for TypeNewSecret.
	NewSecret secret.String
	NewExpiry time.Time
	OldExpiry time.Time

	// Expiry and Reason are set for TypeSecretExpiry.
	Expiry time.Time
	Reason string
}

// wire is the JSON of both notifications (reference §6).
type wire struct {
	NotificationVersion string `json:"notificationVersion"`
	NotificationType    string `json:"notificationType"`
	PayloadVersion      string `json:"payloadVersion"`
	EventTime           string `json:"eventTime"`
	Payload             struct {
		NewSecret *struct {
			ClientID                  string `json:"clientId"`
			NewClientSecret           string `json:"newClientSecret"`
			NewClientSecretExpiryTime string `json:"newClientSecretExpiryTime"`
			OldClientSecretExpiryTime string `json:"oldClientSecretExpiryTime"`
		} `json:"applicationOAuthClientNewSecret"`
		Expiry *struct {
			ClientID                 string `json:"clientId"`
			ClientSecretExpiryTime   string `json:"clientSecretExpiryTime"`
			ClientSecretExpiryReason string `json:"clientSecretExpiryReason"`
		} `json:"applicationOAuthClientSecretExpiry"`
	} `json:"payload"`
	NotificationMetadata struct {
		ApplicationID  string `json:"applicationId"`
		SubscriptionID string `json:"subscriptionId"`
		PublishTime    string `json:"publishTime"`
		NotificationID string `json:"notificationId"`
	} `json:"notificationMetadata"`
}

// snsEnvelope is what an SQS body looks like when the notification came
// through an SNS topic without raw message delivery.
type snsEnvelope struct {
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

// ErrNotRotation reports a message that is not a rotation notification (another
// notification type, or not JSON at all).
var ErrNotRotation = errors.New("not a client-secret rotation notification")

// ParseNotification reads an SQS message body: the raw notification JSON of
// reference §6, or the same wrapped in an SNS envelope. Errors never quote
// the body (it may hold a secret).
func ParseNotification(body string) (Notification, error) {
	var w wire
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		return Notification{}, fmt.Errorf("%w: the message body is not JSON", ErrNotRotation)
	}
	if w.NotificationType == "" {
		var env snsEnvelope
		if json.Unmarshal([]byte(body), &env) == nil && env.Type == "Notification" && env.Message != "" {
			return ParseNotification(env.Message)
		}
	}
	n := Notification{Type: w.NotificationType, ApplicationID: w.NotificationMetadata.ApplicationID,
		NotificationID: w.NotificationMetadata.NotificationID}
	n.EventTime, _ = parseTime(w.EventTime)
	switch w.NotificationType {
	case TypeNewSecret:
		p := w.Payload.NewSecret
		if p == nil || p.ClientID == "" || p.NewClientSecret == "" {
			return Notification{}, fmt.Errorf("%w: %s without applicationOAuthClientNewSecret.clientId/newClientSecret", ErrNotRotation, TypeNewSecret)
		}
		n.ClientID, n.NewSecret = p.ClientID, secret.New(strings.TrimSpace(p.NewClientSecret))
		var err error
		if n.NewExpiry, err = parseTime(p.NewClientSecretExpiryTime); err != nil {
			return Notification{}, fmt.Errorf("%w: newClientSecretExpiryTime: %v", ErrNotRotation, err)
		}
		if n.OldExpiry, err = parseTime(p.OldClientSecretExpiryTime); err != nil {
			return Notification{}, fmt.Errorf("%w: oldClientSecretExpiryTime: %v", ErrNotRotation, err)
		}
	case TypeSecretExpiry:
		p := w.Payload.Expiry
		if p == nil || p.ClientID == "" {
			return Notification{}, fmt.Errorf("%w: %s without applicationOAuthClientSecretExpiry.clientId", ErrNotRotation, TypeSecretExpiry)
		}
		n.ClientID, n.Reason = p.ClientID, p.ClientSecretExpiryReason
		var err error
		if n.Expiry, err = parseTime(p.ClientSecretExpiryTime); err != nil {
			return Notification{}, fmt.Errorf("%w: clientSecretExpiryTime: %v", ErrNotRotation, err)
		}
	default:
		return Notification{}, fmt.Errorf("%w: notificationType %q", ErrNotRotation, w.NotificationType)
	}
	return n, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}
