// Package devserver runs a Temporal server and its Web UI inside the recurring process,
// persisted to one SQLite file, for `recurring dev` and end-to-end tests. Production uses
// a Temporal cluster instead.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const host = "127.0.0.1"

// Options configures the embedded server. Zero ports pick free ones.
type Options struct {
	// DataDir holds temporal.db (the server's state) and temporal.log, both mode
	// 0600. Start does not lock it: callers that share data dirs use LockDataDir.
	DataDir   string
	Port      int // frontend gRPC port; the address SDK clients dial
	UIPort    int // Web UI port; 0 picks one, -1 disables the UI
	Namespace string
	// SearchAttributes are registered on the namespace when it is first created.
	SearchAttributes map[string]enumspb.IndexedValueType
	// DynamicConfig overrides the tuned defaults below, by key.
	DynamicConfig map[string]any
	// CodecEndpoint, when set, is the payload codec the Web UI decodes payloads with
	// (the browser calls it: CodecEndpoint + "/decode").
	CodecEndpoint string
	// HistoryCacheSize is how many workflows' mutable state the history service keeps
	// in memory (HistoryCacheHostLevelMaxSize): DefaultHistoryCacheSize when zero.
	HistoryCacheSize int
	Logger           *slog.Logger
}

// Server is a running embedded Temporal server and Web UI.
type Server struct {
	temporal temporal.Server
	ui       *uiserver.Server
	uiErr    chan error
	// HostPort is the frontend's gRPC address.
	HostPort string
	// UIURL is the Web UI's address, empty when disabled.
	UIURL string
}

// ErrPortInUse reports a port another process holds.
var ErrPortInUse = errors.New("port already in use")

// CheckPort fails at once, naming the port, when addr cannot be bound, so a clash is an
// error instead of a hang deep inside a server's start-up.
func CheckPort(name, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w (%v)", name, addr, ErrPortInUse, err)
	}
	return l.Close()
}

// FreePort returns a port that is free right now, chosen at random below the OS's
// ephemeral range. A port the OS hands out for ":0" comes from that range, where any
// outgoing connection (to Postgres, to a webhook receiver) may take it as its source
// port between our check and the embedded server's bind; below the range only another
// explicit bind can, which makes the embedded server's internal ports far less likely
// to be taken.
func FreePort() (int, error) {
	if lo := ephemeralLow(); lo > 20000+1000 {
		for range 64 {
			port := 20000 + rand.IntN(lo-20000)
			if !handOut(port) {
				continue // given to an earlier caller in this process, maybe not bound yet
			}
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				continue
			}
			_ = l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// handOut records port as given out by FreePort; false if it already was, so one
// server's internal services never get the same port.
func handOut(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	handedOut.ports[port] = true
	return true
}

// ephemeralLow is the first port of the OS's ephemeral range: Linux's setting, or
// IANA's 49152 elsewhere.
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil {
				return lo
			}
		}
	}
	return 49152
}

// DefaultHistoryCacheSize bounds the embedded history service's cache of workflow
// state: enough for a burst of a few thousand plans due together, without keeping
// every sleeping plan in memory (16,384 before, which with the SDK's own 10,000-workflow
// cache held 1.9 GB after 20,000 plans were created).
const DefaultHistoryCacheSize = 4096

// TunedDynamicConfig returns the settings that let one process on SQLite drain a burst
// of thousands of timers falling due together; `recurring bench` measures them.
func TunedDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// One process: a single task queue partition avoids forwarding polls and tasks
		// between partitions that all live in the same matching service anyway.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// Timer and transfer queues poll more often and in larger batches than a
		// cluster's defaults, which assume many hosts sharing the work.
		dynamicconfig.TimerTaskBatchSize.Key():                           1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():                     200,
		dynamicconfig.TransferProcessorMaxPollRPS.Key():                  200,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 DefaultHistoryCacheSize,
		dynamicconfig.FrontendRPS.Key():                                  20000,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key():           20000,
		dynamicconfig.HistoryRPS.Key():                                   20000,
		dynamicconfig.MatchingRPS.Key():                                  20000,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 200,
	}
}

// Start creates the data dir, the schema and namespace on first use, and starts the
// server and UI. On a later start with the same data dir every workflow resumes.
func Start(opts Options) (*Server, error) {
	if opts.Namespace == "" {
		return nil, errors.New("devserver: namespace is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if opts.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = p
	}
	hostPort := net.JoinHostPort(host, strconv.Itoa(opts.Port))
	if err := CheckPort("temporal port", hostPort); err != nil {
		return nil, err
	}
	if opts.UIPort == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.UIPort = p
	}
	var uiAddr string
	if opts.UIPort > 0 {
		uiAddr = net.JoinHostPort(host, strconv.Itoa(opts.UIPort))
		if err := CheckPort("ui port", uiAddr); err != nil {
			return nil, err
		}
	}

	sqlConf, err := prepareSQLite(opts)
	if err != nil {
		return nil, err
	}
	conf, err := serverConfig(opts, sqlConf)
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(opts.DataDir, "temporal.log")
	// zap would create the log world-readable.
	if err := MakePrivate(logFile); err != nil {
		return nil, err
	}
	logger := tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{
		Level:      "warn",
		Format:     "json",
		OutputFile: logFile,
	}))
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	dyn := TunedDynamicConfig()
	if opts.HistoryCacheSize > 0 {
		dyn[dynamicconfig.HistoryCacheHostLevelMaxSize.Key()] = opts.HistoryCacheSize
	}
	for k, v := range opts.DynamicConfig {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("build temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{temporal: srv, HostPort: hostPort, uiErr: make(chan error, 1)}
	if uiAddr != "" {
		s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                host,
			Port:                opts.UIPort,
			TemporalGRPCAddress: hostPort,
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
			Codec:               uiconfig.Codec{Endpoint: opts.CodecEndpoint},
		}))
		go func() { s.uiErr <- s.ui.Start() }()
		s.UIURL = "http://" + uiAddr
	}
	return s, nil
}

// Stop stops the UI and the server.
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.Stop()
	}
	if err := s.temporal.Stop(); err != nil {
		slog.Warn("stop temporal server", "error", err)
	}
}

// UIErr reports the Web UI stopping with an error.
func (s *Server) UIErr() <-chan error { return s.uiErr }

// txlockSuffix makes every transaction BEGIN IMMEDIATE. With several connections in WAL
// mode, a deferred transaction that reads and then writes fails at once with
// SQLITE_BUSY_SNAPSHOT when another connection committed in between — busy_timeout
// cannot help — and Temporal backs off and retries; `recurring bench` saw hundreds of
// those per thousand workflows. Taking the write lock up front turns that into a
// short wait on busy_timeout instead. The Temporal SQLite plugin passes only its own
// pragmas, so the driver options ride on the file name: the plugin appends "?attrs",
// and the trailing "_ignore=" swallows that "?" (the busy_timeout it would have carried
// is repeated here). TestSQLiteDSN pins this against the plugin's DSN format.
const txlockSuffix = "?_txlock=immediate&_pragma=busy_timeout(10000)&_ignore="

func prepareSQLite(opts Options) (*config.SQL, error) {
	file := filepath.Join(opts.DataDir, "temporal.db")
	sqlConf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: file + txlockSuffix,
		ConnectAttributes: map[string]string{
			"mode": "rwc",
			// WAL lets history, matching and visibility read while one of them writes,
			// which is what makes more than one connection safe (see MaxConns).
			"journal_mode": "wal",
			"synchronous":  "normal",
			"busy_timeout": "10000",
		},
		MaxConns:     8,
		MaxIdleConns: 8,
	}
	_, err := os.Stat(file)
	fresh := errors.Is(err, os.ErrNotExist)
	// SQLite would create the file, and its WAL after it, world-readable; an empty file
	// is an empty database to the schema set-up.
	if err := MakePrivate(file); err != nil {
		return nil, err
	}
	if fresh {
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			return nil, fmt.Errorf("create temporal schema in %s: %w", file, err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace config: %w", err)
	}
	// Seven days, not the one-day default: a plan's finished payment workflows stay
	// visible in the Web UI for a week of local testing.
	ns.Detail.Config.Retention = timestamp.DurationFromHours(7 * 24)
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}
	return sqlConf, nil
}

func serverConfig(opts Options, sqlConf *config.SQL) (*config.Config, error) {
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = host
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	// More shards than one let the history service work on several workflows' timers
	// and transfers in parallel; SQLite still serialises the writes.
	conf.Persistence.NumHistoryShards = 4
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	frontendHTTP, err := FreePort()
	if err != nil {
		return nil, err
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             net.JoinHostPort(host, strconv.Itoa(opts.Port)),
				HTTPAddress:            net.JoinHostPort(host, strconv.Itoa(frontendHTTP)),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		svc := config.Service{}
		svc.RPC.BindOnIP = host
		if name == "frontend" {
			svc.RPC.GRPCPort = opts.Port
			svc.RPC.HTTPPort = frontendHTTP
		} else {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = net.JoinHostPort(host, strconv.Itoa(opts.Port))
	return conf, nil
}

// Ready waits until the frontend answers or ctx ends.
func (s *Server) Ready(ctx context.Context, check func(context.Context) error) error {
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal at %s not ready: %w", s.HostPort, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
