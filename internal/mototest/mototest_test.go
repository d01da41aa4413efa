package mototest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

var moto *Server

func TestMain(m *testing.M) { os.Exit(RunMain(m, &moto)) }

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// These tests pin down the moto behaviours the rest of the project relies
// on, so a moto upgrade that changes them shows up here first.
func TestMotoEnforcesAuth(t *testing.T) {
	srv := Need(t, moto)
	ctx := context.Background()

	t.Run("admin can call IAM", func(t *testing.T) {
		id, err := sts.NewFromConfig(srv.AdminConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "arn:aws:iam::" + AccountID + ":user/" + srv.AdminUser; aws.ToString(id.Arn) != want {
			t.Fatalf("caller = %s, want %s", aws.ToString(id.Arn), want)
		}
	})

	t.Run("wrong secret is rejected", func(t *testing.T) {
		bad := srv.Admin
		bad.SecretAccessKey = "not-the-secret-0000000000000000000000000"
		_, err := iam.NewFromConfig(srv.Config(bad)).ListUsers(ctx, &iam.ListUsersInput{})
		if got := apiCode(err); got != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v (code %q), want SignatureDoesNotMatch", err, got)
		}
	})

	t.Run("unknown key is rejected", func(t *testing.T) {
		_, err := iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"})).ListUsers(ctx, &iam.ListUsersInput{})
		if got := apiCode(err); got != "InvalidClientTokenId" {
			t.Fatalf("err = %v (code %q), want InvalidClientTokenId", err, got)
		}
	})

	t.Run("user without policy is denied", func(t *testing.T) {
		admin := iam.NewFromConfig(srv.AdminConfig())
		name := "mototest-nopolicy"
		if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: &name}); err != nil {
			t.Fatal(err)
		}
		key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
		if err != nil {
			t.Fatal(err)
		}
		cfg := srv.Config(aws.Credentials{AccessKeyID: *key.AccessKey.AccessKeyId, SecretAccessKey: *key.AccessKey.SecretAccessKey})
		_, err = iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
		if got := apiCode(err); got != "AccessDenied" {
			t.Fatalf("ListUsers err = %v (code %q), want AccessDenied", err, got)
		}
		// GetCallerIdentity is always allowed, as on AWS.
		if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
	})
}
