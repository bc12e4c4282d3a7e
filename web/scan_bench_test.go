package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/store/postgres"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
	"github.com/ganpin/ganpin/web"
)

// The scan benchmark: PostgreSQL holding a million lots (a third of them harvests, two
// thirds certified box lots with 100 unit serials each, every chain through a cold
// store with room loggers), the scan pages served by a second process, and the load
// from wrk (or, without it, from Go clients here).

const (
	scanLots    = 1_000_000
	scanChains  = (scanLots + 2) / 3 // harvest → two box lots
	scanActive  = 10_000             // certificates the load scans: the lots on sale this week
	scanUnits   = 100                // unit serials on each certificate
	scanClients = 100_000            // distinct client addresses the load comes from
	scanSchema  = "scan_1m"          // testdb.Persistent's name: schema bench_scan_1m
)

// scanSchemaURL returns the PostgreSQL URL of the benchmark's schema.
func scanSchemaURL(b testing.TB) string {
	u, err := url.Parse(testdb.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "bench_"+scanSchema)
	u.RawQuery = q.Encode()
	return u.String()
}

// BenchmarkScanHTTP measures scan pages a second against the trivial handler of the
// same server, with wrk when it is installed. Run it with -benchtime 1x: each run
// loads the server for GANPIN_BENCH_SECONDS (20 by default).
func BenchmarkScanHTTP(b *testing.B) {
	db, fresh := testdb.Persistent(b, "postgres", scanSchema)
	ctx := context.Background()
	if fresh {
		start := time.Now()
		generateScanDB(b, db)
		b.Logf("generated the scan database in %s", time.Since(start).Round(time.Second))
	}
	var lots, certs int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM lots`).Scan(&lots)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM certificates`).Scan(&certs)
	if lots < scanLots {
		b.Fatalf("the benchmark schema bench_scan_1m has %d lots; drop it to regenerate", lots)
	}
	links := scanLinks(b, db)
	dir := b.TempDir()
	list := filepath.Join(dir, "links.txt")
	if err := os.WriteFile(list, []byte(strings.Join(links, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	srv := startScanServer(b)
	seconds, _ := strconv.Atoi(os.Getenv("GANPIN_BENCH_SECONDS"))
	if seconds <= 0 {
		seconds = 20
	}

	// Warm the cache: every active certificate's page once, as the first scans of the
	// week would. The time a page takes here is the cost of a miss.
	missed := warmScans(b, srv, links)
	b.Logf("%d lots, %d certificates; warmed %d pages (each certificate's two links, one read): %.0f pages/s, p50 %.1f ms, p99 %.1f ms",
		lots, certs, missed.n, missed.rate, missed.p50, missed.p99)

	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Log("wrk not found (apt-get install wrk): loading from 32 Go clients in this process")
		scan := goLoad(b, seconds, func(rnd *rand.Rand) string { return srv + links[rnd.IntN(len(links))] })
		trivial := goLoad(b, seconds/2+1, func(*rand.Rand) string { return srv + "/trivial" })
		report(b, "", scan, trivial, missed)
		return
	}
	script := filepath.Join(dir, "scan.lua")
	os.WriteFile(script, []byte(wrkScript(list)), 0o644)
	// 64 connections for throughput, 16 for latency; the trivial handler likewise.
	for _, conns := range []int{64, 16} {
		scan := runWrk(b, wrk, conns, seconds, "-s", script, srv)
		trivial := runWrk(b, wrk, conns, seconds/2+1, srv+"/trivial")
		report(b, fmt.Sprintf("c%d-", conns), scan, trivial, missed)
	}
}

func report(b *testing.B, prefix string, scan, trivial, missed loadResult) {
	b.ReportMetric(scan.rate, prefix+"pages/s")
	b.ReportMetric(scan.p50, prefix+"p50-ms")
	b.ReportMetric(scan.p99, prefix+"p99-ms")
	b.ReportMetric(trivial.rate, prefix+"trivial-req/s")
	b.ReportMetric(trivial.p99, prefix+"trivial-p99-ms")
	b.ReportMetric(scan.rate/trivial.rate, prefix+"ratio")
	if prefix == "" || prefix == "c64-" {
		b.ReportMetric(missed.rate, "warm-pages/s")
	}
	b.Logf("scan: %s", scan.raw)
	b.Logf("trivial: %s", trivial.raw)
}

// TestScanServerProcess is the server of BenchmarkScanHTTP: run as the benchmark's
// child process, it serves the scan pages over the benchmark schema and /trivial,
// prints its address and serves until its standard input closes.
func TestScanServerProcess(t *testing.T) {
	dbURL := os.Getenv("GANPIN_SCAN_SERVER_DB")
	if dbURL == "" {
		t.Skip("the scan benchmark's server process (BenchmarkScanHTTP runs it)")
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	key, err := anchor.LoadKey(dir, "bench")
	if err != nil {
		t.Fatal(err)
	}
	var proofs tlog.Prover
	counter := web.NewScanCounter(st, 2*time.Second)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); counter.Run(cctx) }()
	svc := trace.NewService(st, nil)
	pages := web.New(web.Config{Service: svc, Base: "http://scan.example.cn", Scan: st, Counter: counter,
		Receipt: func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error) {
			return anchor.BuildReceipt(ctx, db, &proofs, key, kind, id, record)
		},
		// The load comes through a proxy that names the client, as a CDN would.
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Forwarded-For") }})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /trivial", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/", pages)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	fmt.Printf("listening on http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	hs.Shutdown(ctx)
	stop()
	<-done
}

// startScanServer starts TestScanServerProcess and returns its base URL.
func startScanServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestScanServerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GANPIN_SCAN_SERVER_DB="+scanSchemaURL(b))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return addr
		}
	}
	b.Fatal("the scan server did not start")
	return ""
}

// scanLinks returns the links the load scans: for scanActive certificates drawn at
// random, their unit labels' Digital Links (most scans), the lot's own and the short
// links printed under the codes.
func scanLinks(b *testing.B, db sqldb.DB) []string {
	rs, err := db.Query(context.Background(), `SELECT body FROM certificates ORDER BY md5(serial) LIMIT $1`, scanActive)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	var links []string
	for rs.Next() {
		var body []byte
		rs.Scan(&body)
		var c cert.Issued
		if err := json.Unmarshal(body, &c.Certificate); err != nil {
			b.Fatal(err)
		}
		for u := 1; u <= 8; u++ {
			links = append(links, c.URL("", 1+(u*37)%c.Units))
		}
		links = append(links, c.URL("", 0), c.ShortURL("", 1+rand.IntN(c.Units)))
	}
	return links
}

type loadResult struct {
	n              int
	rate, p50, p99 float64 // per second, ms
	raw            string
}

// warmScans requests each certificate's lot page and short link once, 8 at a time.
func warmScans(b *testing.B, base string, links []string) loadResult {
	var lots []string
	for _, l := range links {
		if !strings.Contains(l, "/21/") {
			lots = append(lots, l)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 8 {
		wg.Go(func() {
			n := 0
			for l := range next {
				t0 := time.Now()
				n++
				if err := fetch(base+l, fmt.Sprintf("10.1.%d.%d", i, n%256)); err != nil {
					b.Error(err)
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	for _, l := range lots {
		next <- l
	}
	close(next)
	wg.Wait()
	return summarise(lat, time.Since(start))
}

var benchHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}

func fetch(u, client string) error {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Forwarded-For", client)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := benchHTTP.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	return nil
}

func summarise(lat []time.Duration, took time.Duration) loadResult {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return loadResult{n: len(lat), rate: float64(len(lat)) / took.Seconds(), p50: ms(lat[len(lat)/2]), p99: ms(lat[len(lat)*99/100])}
}

// goLoad requests pick()'s URLs from 32 clients for seconds.
func goLoad(b *testing.B, seconds int, pick func(*rand.Rand) string) loadResult {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	start := time.Now()
	for i := range 32 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(i), 5))
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := fetch(pick(rnd), fmt.Sprintf("10.%d.%d.%d", rnd.IntN(2), rnd.IntN(256), rnd.IntN(256))); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r := summarise(lat, time.Since(start))
	r.raw = fmt.Sprintf("%d requests in %ds from 32 Go clients", r.n, seconds)
	return r
}

// wrkScript makes wrk request the links in list at random, each from one of
// scanClients client addresses, accepting gzip as phones do.
func wrkScript(list string) string {
	return fmt.Sprintf(`
local links = {}
for line in io.lines(%q) do links[#links + 1] = line end
math.randomseed(os.time())
request = function()
  local ip = "10." .. math.random(0, %d) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255)
  return wrk.format("GET", links[math.random(#links)], {["X-Forwarded-For"] = ip, ["Accept-Encoding"] = "gzip", ["Accept-Language"] = "zh-CN,zh;q=0.9"})
end
response = function(status, headers, body)
  if status ~= 200 then print("status " .. status) end
end
`, list, scanClients/65536)
}

var wrkLine = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$`)

// runWrk runs wrk for seconds with 2 threads and conns connections and reads its figures.
func runWrk(b *testing.B, wrk string, conns, seconds int, args ...string) loadResult {
	all := append([]string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(seconds) + "s", "--latency"}, args...)
	out, err := exec.Command(wrk, all...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %v: %v\n%s", all, err, out)
	}
	r := loadResult{raw: "wrk " + strings.Join(all, " ") + "\n" + string(out)}
	if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out); m != nil {
		r.rate, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range wrkLine.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if strings.Contains(string(out), "status ") {
		b.Errorf("wrk saw responses other than 200:\n%s", out)
	}
	return r
}

// generateScanDB fills the benchmark schema through the service, a round of 1,000
// chains at a time: 200 orchards with a season of sprays, then per chain a harvest,
// packing into two box lots, shipping to the cold store, receiving and storing in one
// of four rooms with a logger each, shipping on to a front warehouse three days later
// and receiving there; then a certificate with 100 unit serials for every box lot,
// written straight through the certificate store (the issuing rules are the
// certificate service's benchmark, not this one).
func generateScanDB(b *testing.B, db sqldb.DB) {
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := trace.NewService(st, nil)
	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	party := func(kind trace.PartyKind, name, uscc17, county, user string, role trace.Role) (trace.Actor, *trace.Party) {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: name, USCC: uscc17 + string(c), County: county, Contact: "0797-1234567"}
		check(svc.CreateParty(ctx, root, p))
		u := &trace.User{PartyID: p.ID, Username: user, Name: user, Roles: []trace.Role{role}}
		check(svc.CreateUser(ctx, root, u, "bench-password-1"))
		return trace.Actor{UserID: u.ID, PartyID: p.ID, Roles: u.Roles}, p
	}
	coop, coopParty := party(trace.Cooperative, "寻乌县澄江脐橙专业合作社", "93360734MA35XW0B1", "360734", "bench-coop", trace.RoleProducerAdmin)
	cold, _ := party(trace.Logistics, "赣州赣南冷链物流有限公司", "91360702MA35LL0B1", "360702", "bench-cold", trace.RoleLogistics)
	site := func(a trace.Actor, s trace.Site) *trace.Site {
		check(svc.CreateSite(ctx, a, &s))
		return &s
	}
	var orchards []*trace.Site
	for i := range 200 {
		orchards = append(orchards, site(coop, trace.Site{Kind: trace.Orchard, Name: fmt.Sprintf("澄江镇%d号果园", i+1), County: "360734", Town: "澄江镇",
			AreaMu: 30, Lat: 24.95, Lon: 115.65}))
	}
	packhouse := site(coop, trace.Site{Kind: trace.Packhouse, Name: "澄江镇分选包装中心", County: "360734", Town: "澄江镇", Lat: 24.96, Lon: 115.66})
	store1 := site(cold, trace.Site{Kind: trace.ColdStore, Name: "章贡区水西冷链仓储中心", County: "360702", Town: "水西镇", Lat: 25.86, Lon: 114.88})
	front := site(cold, trace.Site{Kind: trace.Warehouse, Name: "上海浦东前置仓", County: "310115", Town: "川沙新镇", Lat: 31.19, Lon: 121.70})
	fruit := &trace.Product{Name: "赣南脐橙鲜果", Variety: "纽荷尔", Unit: trace.Kg, ColdProfile: "navel_orange"}
	check(svc.CreateProduct(ctx, coop, fruit))
	g12 := "691234500001"
	c, _ := trace.GS1Check(g12)
	box := &trace.Product{Name: "赣南脐橙 5kg装", Variety: "纽荷尔", GTIN: g12 + string(c), Unit: trace.Box, NetKg: 5, ColdProfile: "navel_orange"}
	check(svc.CreateProduct(ctx, coop, box))

	season := time.Date(2026, 11, 3, 7, 0, 0, 0, time.FixedZone("CST", 8*3600))
	var apps []trace.EventSpec
	for _, o := range orchards {
		for k := range 8 {
			apps = append(apps, trace.EventSpec{Type: trace.InputApplication, Time: season.AddDate(0, 0, -150+k*12).Format(time.RFC3339), Site: o.ID,
				Input: &trace.InputSpec{ProductName: "1.8%阿维菌素乳油", RegistrationNo: "PD20080123", ActiveIngredient: "阿维菌素", Dose: "3000倍液", PHIDays: 14, AreaMu: 30}})
		}
	}
	_, err = svc.Capture(ctx, coop, apps)
	check(err)

	const perRound = 1000
	rounds := (scanChains + perRound - 1) / perRound
	for round := range rounds {
		at := season.Add(time.Duration(round) * 5 * time.Minute)
		ts := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339) }
		n := min(perRound, scanChains-round*perRound)
		specs := make([]trace.EventSpec, 0, 2*n)
		for i := range n {
			specs = append(specs, trace.EventSpec{Type: trace.Harvest, Time: ts(0), Site: orchards[(round*perRound+i)%len(orchards)].ID,
				Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: fmt.Sprintf("XW%04d-%03d", round, i), Product: fruit.ID, Quantity: 1000, Unit: trace.Kg, Grade: "一等"}}})
		}
		hs, err := svc.Capture(ctx, coop, specs)
		check(err)
		specs = specs[:0]
		for i, h := range hs {
			specs = append(specs, trace.EventSpec{Type: trace.Transformation, Time: ts(3 * time.Hour), Site: packhouse.ID,
				Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: h.Lots[0].Lot, Quantity: 1000}},
					Outputs: []trace.NewLotSpec{{Code: fmt.Sprintf("XW%04d-%03d-5K", round, i), Product: box.ID, Quantity: 100, Unit: trace.Box},
						{Code: fmt.Sprintf("XW%04d-%03d-GB", round, i), Product: box.ID, Quantity: 90, Unit: trace.Box}}}})
		}
		ps, err := svc.Capture(ctx, coop, specs)
		check(err)
		specs = specs[:0]
		var pairs [][]int64
		for _, p := range ps {
			pair := []int64{p.Lots[1].Lot, p.Lots[2].Lot}
			pairs = append(pairs, pair)
			specs = append(specs, trace.EventSpec{Type: trace.Shipping, Time: ts(5 * time.Hour), Site: packhouse.ID,
				Shipping: &trace.ShippingSpec{Lots: pair, To: store1.ID, Carrier: "赣州赣南冷链物流有限公司"}})
		}
		_, err = svc.Capture(ctx, coop, specs)
		check(err)
		specs = specs[:0]
		for i, pair := range pairs {
			specs = append(specs,
				trace.EventSpec{Type: trace.Receiving, Time: ts(8 * time.Hour), Site: store1.ID, Receiving: &trace.ReceivingSpec{Lots: pair}},
				trace.EventSpec{Type: trace.Storing, Time: ts(8*time.Hour + 30*time.Minute), Site: store1.ID, Storing: &trace.StoringSpec{Lots: pair, Room: fmt.Sprintf("A%d", 1+i%4)}},
				trace.EventSpec{Type: trace.Shipping, Time: ts(80 * time.Hour), Site: store1.ID, Shipping: &trace.ShippingSpec{Lots: pair, To: front.ID, Container: fmt.Sprintf("RF%06d", i)}},
				trace.EventSpec{Type: trace.Receiving, Time: ts(100 * time.Hour), Site: front.ID, Receiving: &trace.ReceivingSpec{Lots: pair}})
		}
		_, err = svc.Capture(ctx, cold, specs)
		check(err)
		if round%50 == 0 {
			b.Logf("generated %d of %d chains", (round+1)*perRound, scanChains)
		}
	}

	// A logger in each room, a reading every ten minutes over the season.
	from, to := season.Add(-24*time.Hour), season.Add(time.Duration(rounds)*5*time.Minute+100*time.Hour)
	for r := range 4 {
		d := &trace.Device{Serial: fmt.Sprintf("ROOM-A%d", r+1), Model: "bench logger"}
		check(svc.RegisterDevice(ctx, cold, d))
		check(svc.Assign(ctx, cold, &trace.Assignment{DeviceID: d.ID, Site: store1.ID, Room: fmt.Sprintf("A%d", r+1), From: from}))
		var rs []trace.Reading
		for t := from; t.Before(to); t = t.Add(10 * time.Minute) {
			rs = append(rs, trace.Reading{Time: t, Temp: 6 + float64((t.Unix()/600+int64(r))%15)/10, Humidity: 90})
		}
		_, err := svc.Ingest(ctx, cold, d.ID, rs)
		check(err)
	}

	// Certificates for the box lots.
	keys, err := cert.LoadKeys(b.TempDir())
	check(err)
	key := keys.Party(coopParty.ID)
	var lots []trace.Lot
	for p := (trace.Page{Limit: 1000}); ; {
		page, err := st.Lots(ctx, trace.LotFilter{}, p)
		check(err)
		for _, l := range page {
			if l.ProductID == box.ID {
				lots = append(lots, l)
			}
		}
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].ID
	}
	slices.SortFunc(lots, func(x, y trace.Lot) int { return int(x.ID - y.ID) })
	issued := season.Add(12 * time.Hour).Truncate(time.Second)
	for len(lots) > 0 {
		n := min(len(lots), 1000)
		check(st.WriteCertificates(ctx, func(tx cert.Tx) error {
			ids, err := tx.ReserveIDs(ctx, "certificate", n)
			if err != nil {
				return err
			}
			for i, l := range lots[:n] {
				c := &cert.Issued{ID: ids[i], Certificate: cert.Certificate{PartyID: coopParty.ID, LotID: l.ID, LotCode: l.Code, GTIN: box.GTIN, Units: scanUnits,
					Product: "赣南脐橙 5kg装 纽荷尔", Quantity: l.Quantity, Unit: trace.Box, Origin: "江西省赣州市寻乌县澄江镇", Issued: issued,
					Producer: coopParty.Name, Contact: coopParty.Contact, Template: cert.Producer, Basis: cert.QualityControl}}
				c.Serial = cert.Serial(c.Issued, c.ID)
				c.Canonical = c.Certificate.Canonical()
				c.Signature = c.Sign(key)
				if err := tx.InsertCertificate(ctx, c); err != nil {
					return err
				}
			}
			return nil
		}))
		lots = lots[n:]
	}
	for _, t := range []string{"events", "lots", "event_lots", "lot_edges", "certificates", "readings", "assignments", "log_leaves"} {
		db.Exec(ctx, "ANALYZE "+t)
	}
}
