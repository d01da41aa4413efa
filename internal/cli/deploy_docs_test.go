package cli

// docs/deploy.md's commands install spgate on a host, create a PostgreSQL
// database and apply Kubernetes manifests: none of them runs offline. What
// spgate does in them is tested elsewhere, against a throw-away PostgreSQL.
func init() {
	const pg = "needs a PostgreSQL server; TestVaultCopy runs spgate vault copy and spgate doctor against a throw-away cluster (internal/pgtest)"
	docRules = append(docRules,
		docRule{doc: "docs/deploy.md", match: "sudo -u postgres", skip: "creates a PostgreSQL user and database on the database server, as its administrator"},
		docRule{doc: "docs/deploy.md", match: "sudo -u spgate env", skip: "runs spgate doctor as the service's account on an installed host; the documents' other doctor commands run offline"},
		docRule{doc: "docs/deploy.md", match: "sudo ", skip: "installs spgate as a systemd service: needs root and systemd"},
		docRule{doc: "docs/deploy.md", match: "spgate vault copy --to", skip: pg},
		docRule{doc: "docs/deploy.md", match: `SPGATE_VAULT="postgres://`, skip: pg},
		docRule{doc: "docs/deploy.md", match: "kubectl ", skip: "needs a Kubernetes cluster"},
	)
}
