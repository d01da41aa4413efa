package appvault_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
)

// An app without a notification queue cannot be rotated: the rotator says
// so before asking Amazon for anything.
func TestNewRotatorNeedsTheAppsQueue(t *testing.T) {
	ctx := context.Background()
	v := newAWSVault(t)
	app := getApp(t, v)
	r, err := appvault.NewRotator(ctx, v, app, spapi.Production(), "", rotation.Config{Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(ctx, app.Name); !errors.Is(err, rotation.ErrNoQueue) {
		t.Fatalf("Rotate without a queue: %v, want ErrNoQueue", err)
	}
}
