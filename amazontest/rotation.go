package amazontest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// rotateKey is the operation key of rotateApplicationClientSecret.
const rotateKey = "application-management/2023-11-30/rotateApplicationClientSecret"

// msgNotEnrolled is the model's 400 message for an app without a rotation
// notification destination.
const msgNotEnrolled = "Application is not enrolled for rotation notification. Please update application notification preference in Developer console."

// coreHandlers are the operations the server core implements itself; they
// are merged over operationHandlers().
func coreHandlers() map[string]opHandler {
	return map[string]opHandler{rotateKey: rotateClientSecret}
}

// notificationTime is Amazon's timestamp layout in notifications.
const notificationTime = "2006-01-02T15:04:05.000Z07:00"

// NewSecretNotification is APPLICATION_OAUTH_CLIENT_NEW_SECRET as Amazon
// publishes it.
type NewSecretNotification struct {
	NotificationVersion  string               `json:"notificationVersion"`
	NotificationType     string               `json:"notificationType"`
	PayloadVersion       string               `json:"payloadVersion"`
	EventTime            string               `json:"eventTime"`
	Payload              NewSecretPayload     `json:"payload"`
	NotificationMetadata NotificationMetadata `json:"notificationMetadata"`
}

// NewSecretPayload is the payload of APPLICATION_OAUTH_CLIENT_NEW_SECRET.
type NewSecretPayload struct {
	ApplicationOAuthClientNewSecret struct {
		ClientID                  string `json:"clientId"`
		NewClientSecret           string `json:"newClientSecret"`
		NewClientSecretExpiryTime string `json:"newClientSecretExpiryTime"`
		OldClientSecretExpiryTime string `json:"oldClientSecretExpiryTime"`
	} `json:"applicationOAuthClientNewSecret"`
}

// SecretExpiryNotification is APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY.
type SecretExpiryNotification struct {
	NotificationVersion  string               `json:"notificationVersion"`
	NotificationType     string               `json:"notificationType"`
	PayloadVersion       string               `json:"payloadVersion"`
	EventTime            string               `json:"eventTime"`
	Payload              SecretExpiryPayload  `json:"payload"`
	NotificationMetadata NotificationMetadata `json:"notificationMetadata"`
}

// SecretExpiryPayload is the payload of APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY.
type SecretExpiryPayload struct {
	ApplicationOAuthClientSecretExpiry struct {
		ClientID                 string `json:"clientId"`
		ClientSecretExpiryTime   string `json:"clientSecretExpiryTime"`
		ClientSecretExpiryReason string `json:"clientSecretExpiryReason"`
	} `json:"applicationOAuthClientSecretExpiry"`
}

// NotificationMetadata is the metadata block of every notification.
type NotificationMetadata struct {
	ApplicationID  string `json:"applicationId"`
	SubscriptionID string `json:"subscriptionId"`
	PublishTime    string `json:"publishTime"`
	NotificationID string `json:"notificationId"`
}

// rotateClientSecret is POST /applications/2023-11-30/clientSecret. The
// pipeline has already required a grantless token of the rotation scope.
func rotateClientSecret(s *Server, c *call) {
	s.mu.Lock()
	app := s.reg.apps[c.app.ID]
	if app == nil || app.NotEnrolledForRotation {
		s.mu.Unlock()
		writeError(c.w, http.StatusBadRequest, "InvalidInput", msgNotEnrolled, "")
		return
	}
	now := s.now()
	app.PreviousSecret = app.ClientSecret
	app.PreviousExpiry = now.Add(s.cfg.PreviousSecretWindow)
	app.ClientSecret = s.newSecret()
	app.SecretExpiry = now.Add(secretLifetime)
	var n NewSecretNotification
	n.NotificationVersion, n.NotificationType, n.PayloadVersion = "1.0", "APPLICATION_OAUTH_CLIENT_NEW_SECRET", "2023-11-30"
	n.EventTime = now.UTC().Format(notificationTime)
	p := &n.Payload.ApplicationOAuthClientNewSecret
	p.ClientID, p.NewClientSecret = app.ClientID, app.ClientSecret
	p.NewClientSecretExpiryTime = app.SecretExpiry.UTC().Format(notificationTime)
	p.OldClientSecretExpiryTime = app.PreviousExpiry.UTC().Format(notificationTime)
	n.NotificationMetadata = s.metadataLocked(app.ID, now)
	queue := app.NotificationQueueURL
	s.mu.Unlock()

	body, _ := json.Marshal(n)
	// Amazon answers 204 whether or not delivery works; a failed delivery is
	// counted (Counters.NotificationErrors), as the secret is then lost.
	_ = s.publish(c.r.Context(), queue, body)
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) metadataLocked(appID string, now time.Time) NotificationMetadata {
	return NotificationMetadata{
		ApplicationID:  appID,
		SubscriptionID: s.uuidLocked(),
		PublishTime:    now.Add(1200 * time.Millisecond).UTC().Format(notificationTime),
		NotificationID: s.uuidLocked(),
	}
}

func (s *Server) uuidLocked() string {
	h := s.randString(hexDigits, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[s.rng.IntN(4)]) + h[17:20] + "-" + h[20:]
}

// EmitSecretExpiry publishes APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY for
// appID to its sink (reason e.g. "PERIODIC_ROTATION").
func (s *Server) EmitSecretExpiry(ctx context.Context, appID string, expiry time.Time, reason string) error {
	s.mu.Lock()
	app := s.reg.apps[appID]
	if app == nil {
		s.mu.Unlock()
		return fmt.Errorf("amazontest: unknown app %q", appID)
	}
	if app.NotEnrolledForRotation {
		s.mu.Unlock()
		return fmt.Errorf("amazontest: app %s is not enrolled for rotation notifications", appID)
	}
	now := s.now()
	var n SecretExpiryNotification
	n.NotificationVersion, n.NotificationType, n.PayloadVersion = "1.0", "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY", "2023-11-30"
	n.EventTime = now.UTC().Format(notificationTime)
	p := &n.Payload.ApplicationOAuthClientSecretExpiry
	p.ClientID = app.ClientID
	p.ClientSecretExpiryTime = expiry.UTC().Format(notificationTime)
	p.ClientSecretExpiryReason = reason
	n.NotificationMetadata = s.metadataLocked(app.ID, now)
	queue := app.NotificationQueueURL
	s.mu.Unlock()
	body, _ := json.Marshal(n)
	return s.publish(ctx, queue, body)
}

// Notifications returns the channel that receives the JSON of every
// notification for apps without a NotificationQueueURL. It buffers 256; a
// notification that finds it full is counted in NotificationErrors and lost.
func (s *Server) Notifications() <-chan []byte { return s.notify }

type sqsSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// publish delivers body to queue (an SQS queue URL) or, when queue is
// empty, to the Notifications channel.
func (s *Server) publish(ctx context.Context, queue string, body []byte) error {
	if queue == "" {
		select {
		case s.notify <- body:
			s.counters.add(&s.counters.notes)
			return nil
		default:
			s.counters.add(&s.counters.noteErrors)
			return fmt.Errorf("amazontest: notification channel is full (256); read srv.Notifications()")
		}
	}
	cli, err := s.sqsClient(queue)
	if err != nil {
		s.counters.add(&s.counters.noteErrors)
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if _, err := cli.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(string(body))}); err != nil {
		s.counters.add(&s.counters.noteErrors)
		return fmt.Errorf("amazontest: send notification to SQS queue %s: %w (check Config.SQSEndpoint and credentials)", queue, err)
	}
	s.counters.add(&s.counters.notes)
	return nil
}

func (s *Server) sqsClient(queue string) (sqsSender, error) {
	endpoint := s.cfg.SQSEndpoint
	if endpoint == "" {
		u, err := url.Parse(queue)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("amazontest: notification queue URL %q is not an absolute URL", queue)
		}
		endpoint = u.Scheme + "://" + u.Host
	}
	s.sqsMu.Lock()
	defer s.sqsMu.Unlock()
	if c, ok := s.sqsCli[endpoint]; ok {
		return c, nil
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(s.cfg.SQSAccessKeyID, s.cfg.SQSSecretAccessKey.Reveal(), ""),
		HTTPClient:   &http.Client{Timeout: 15 * time.Second},
	}
	c := sqs.NewFromConfig(cfg)
	s.sqsCli[endpoint] = c
	return c, nil
}
