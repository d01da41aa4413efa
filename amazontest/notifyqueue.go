package amazontest

import (
	"fmt"
	"net/url"
)

// SetNotificationQueue makes appID's registered destination for rotation
// notifications the SQS queue queueURL, as a developer does in Developer
// Central; "" sends them to the Notifications channel instead. The emulator
// publishes there through Config.SQSEndpoint (or the URL's own host).
func (s *Server) SetNotificationQueue(appID, queueURL string) error {
	if queueURL != "" {
		if u, err := url.Parse(queueURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("amazontest: notification queue URL %q is not an absolute URL", queueURL)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reg.apps[appID]
	if !ok {
		return fmt.Errorf("amazontest: unknown app %q", appID)
	}
	a.NotificationQueueURL = queueURL
	a.NotEnrolledForRotation = false
	return nil
}
