package benchmark

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteText writes the report as spgate bench gateway prints it.
func (r GatewayReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "gateway: GET %s over %d sellers; %d sequential calls per path, then %d connections for %.1f s per path\n",
		ParticipationsPath, r.Sellers, r.Samples, r.Concurrency, r.DurationSec)
	fmt.Fprintf(w, "  %-36s %8s %8s %10s %10s %9s %12s %17s\n", "", "p50", "p99", "added p50", "added p99", "req/s", "CPU/call", "RSS (peak)")
	writeRow(w, " ", r.Direct, false)
	for _, row := range r.Rows {
		mark := " "
		if row.Default {
			mark = "*"
		}
		writeRow(w, mark, row, true)
	}
	fmt.Fprintf(w, "  (* spgate serve's default configuration: rate limits shared through the vault, audit log, warnings-only log)\n")
	if !strings.HasPrefix(r.Nginx, "/") {
		fmt.Fprintf(w, "  nginx: %s\n", r.Nginx)
	}
	fmt.Fprintf(w, "  PostgreSQL: %s\n", r.Postgres)
	for _, row := range r.Rows {
		if len(row.Limits) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", row.Name)
		if n := row.ToNginx; n != nil {
			fmt.Fprintf(w, "    ÷ nginx: added p50 %.2f×, added p99 %.2f×, req/s %.2f×\n", n.AddedP50, n.AddedP99, n.ReqPerSec)
		}
		if d := row.ToDefault; d != nil {
			fmt.Fprintf(w, "    ÷ the default (vault file): added p50 %.2f×, added p99 %.2f×, req/s %.2f×\n", d.AddedP50, d.AddedP99, d.ReqPerSec)
		}
		for _, l := range row.Limits {
			fmt.Fprintf(w, "    %s\n", l)
		}
		if row.Errors > 0 {
			fmt.Fprintf(w, "    %d calls failed\n", row.Errors)
		}
	}
}

// writeRow writes one row of the gateway table; added says whether the
// row has added latency (all but the direct path).
func writeRow(w io.Writer, mark string, row GatewayRow, added bool) {
	a50, a99, cpu, mem := "", "", "", ""
	if added {
		a50, a99 = fmt.Sprintf("%.0f µs", row.AddedP50us), fmt.Sprintf("%.0f µs", row.AddedP99us)
	}
	if row.CPUPerCallMicros > 0 {
		cpu = fmt.Sprintf("%.1f µs", row.CPUPerCallMicros)
	}
	if row.RSSBytes > 0 {
		mem = fmt.Sprintf("%.1f (%.1f) MiB", float64(row.RSSBytes)/(1<<20), float64(row.PeakRSSBytes)/(1<<20))
	}
	fmt.Fprintf(w, "%s %-36s %5.0f µs %5.0f µs %10s %10s %9s %12s %17s\n", mark, row.Name, row.P50us, row.P99us, a50, a99, num(math.Round(row.ReqPerSec)), cpu, mem)
}
