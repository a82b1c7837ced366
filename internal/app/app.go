package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/esm"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/image"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/logs"
	"github.com/kumo-run/kumo/internal/metrics"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/services/apigateway/execute"
	"github.com/kumo-run/kumo/internal/services/apigateway/httpapi"
	"github.com/kumo-run/kumo/internal/services/apigateway/restapi"
	"github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/services/ec2"
	kumoevents "github.com/kumo-run/kumo/internal/services/events"
	kumoiam "github.com/kumo-run/kumo/internal/services/iam"
	"github.com/kumo-run/kumo/internal/services/kms"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	kumos3 "github.com/kumo-run/kumo/internal/services/s3"
	kumoscheduler "github.com/kumo-run/kumo/internal/services/scheduler"
	"github.com/kumo-run/kumo/internal/services/secretsmanager"
	kumosns "github.com/kumo-run/kumo/internal/services/sns"
	"github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/services/sts"
	"github.com/kumo-run/kumo/internal/store"
	"github.com/kumo-run/kumo/internal/worker"
)

// Run starts the server and blocks until ctx is done, then shuts it down.
// ready, if not nil, is called with the listening address once the server
// answers requests.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	sync := natsd.SyncAlways
	if cfg.Fsync == config.FsyncInterval {
		sync = natsd.SyncInterval
	}
	node, err := nodeID(cfg)
	if err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	ns, err := openNATS(cfg, node, sync, log)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	if sp, err := ns.Space(); err == nil {
		log.Info("data disk", "space", sp.String())
	}
	nc, err := ns.Connect("kumo")
	if err != nil {
		return fmt.Errorf("store connection: %w", err)
	}
	defer nc.Close()
	// Every bucket and stream is created with rep replicas: 1 alone,
	// min(3, cluster size) in a cluster, once the cluster can store them.
	rep := replicas(cfg, ns)
	// What the node waits for while it starts: logged, and on a cluster
	// member's /healthz until the edge listens (serveStarting).
	opening := natsd.NewOpening(log)
	stopStarting, err := serveStarting(cfg, node, opening, log)
	if err != nil {
		return err
	}
	defer stopStarting()
	if err := ns.WaitReady(opening.Context(ctx), nc, rep, log); err != nil {
		return err
	}
	// octx bounds opening the store's buckets and streams (see
	// openContext); what runs on after opening keeps ctx.
	octx, cancelOpen := openContext(opening.Context(ctx), cfg)
	defer cancelOpen()
	unlockOpen, err := natsd.OpenLock(octx, nc, node, rep, log)
	if err != nil {
		return err
	}
	opening.Set("opening the store's buckets and streams")
	opened := false
	defer func() {
		if !opened {
			unlockOpen()
		}
	}()
	logStore, err := logs.Open(octx, nc, logs.Config{Region: cfg.Region, Account: cfg.AccountID, Logger: log, Writable: ns.Writable, Replicas: rep})
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer logStore.Close()
	st, err := store.NewJetStream(nc, store.WithReplicas(rep))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	kv, err := st.KV(octx, natsd.RegistryBucket)
	if err != nil {
		return fmt.Errorf("registry bucket: %w", err)
	}
	code, err := st.Blobs(octx, natsd.CodeBucket)
	if err != nil {
		return fmt.Errorf("code bucket: %w", err)
	}
	rts, err := runtimes.New(runtimes.Config{Dir: filepath.Join(cfg.DataDir, "runtimes"), Interpreters: cfg.RuntimeInterpreters, SDKDir: cfg.SDKDir()})
	if err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	if sdk := rts.SDKs(); sdk.Node == "" {
		log.Warn("the AWS SDK for JavaScript v3 is not installed: nodejs functions cannot use it; run kumo runtimes install-sdk", "dir", cfg.SDKDir())
	}
	ec2KV, err := st.KV(octx, natsd.EC2Bucket)
	if err != nil {
		return fmt.Errorf("ec2 bucket: %w", err)
	}
	// The node's secrets: the data dir's, or in a cluster the ones every
	// node shares through the store (keys.go).
	keys, err := openKeyring(octx, cfg, st, log)
	if err != nil {
		return err
	}
	tokenKey, err := keys.key(octx, secretSessionToken, tokenKeyFile)
	if err != nil {
		return fmt.Errorf("session token key: %w", err)
	}
	issuer, err := token.New(tokenKey)
	if err != nil {
		return err
	}
	// IAM's state: iamDir answers who an access key is and which
	// policies apply to a caller, for the edge and for authorization.
	iamKV, err := st.KV(octx, natsd.IAMBucket)
	if err != nil {
		return fmt.Errorf("iam bucket: %w", err)
	}
	iamDir, err := kumoiam.OpenDirectory(octx, kumoiam.DirectoryConfig{KV: iamKV, Issuer: issuer, Partition: "aws", Account: cfg.AccountID, Logger: log})
	if err != nil {
		return err
	}
	defer iamDir.Close()
	// Authorization, when authentication is on: every service asks az
	// before an operation runs, with IAM's state as the directory.
	var az *authz.Authorizer
	if !cfg.AuthDisabled {
		az = authz.New(authz.Config{Directory: iamDir, Region: cfg.Region, Logger: log})
	}
	ec2Svc, err := ec2.Open(octx, ec2.Config{KV: ec2KV, Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az})
	if err != nil {
		return err
	}
	sqsKV, err := st.KV(octx, natsd.SQSBucket)
	if err != nil {
		return fmt.Errorf("sqs bucket: %w", err)
	}
	sqsSvc, err := sqs.Open(octx, sqs.Config{KV: sqsKV, NC: nc, Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az,
		Writable: ns.Writable, Replicas: rep})
	if err != nil {
		return err
	}
	defer sqsSvc.Close()
	// KMS: keys in their bucket, their material wrapped by the master
	// key, which goes to the store only sealed, in a cluster (keys.go).
	kmsSvc, err := openKMS(octx, cfg, st, keys, az, ns.Writable, log)
	if err != nil {
		return err
	}
	defer kmsSvc.Close()
	smKV, err := st.KV(octx, natsd.SecretsBucket)
	if err != nil {
		return fmt.Errorf("secrets manager bucket: %w", err)
	}
	smSvc, err := secretsmanager.Open(octx, secretsmanager.Config{KV: smKV, Writable: ns.Writable, Keys: kms.ServiceKeys{KMS: kmsSvc, Service: "secretsmanager"},
		Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az})
	if err != nil {
		return err
	}
	defer smSvc.Close()
	ddbKV, err := st.KV(octx, natsd.DynamoDBBucket)
	if err != nil {
		return fmt.Errorf("dynamodb bucket: %w", err)
	}
	ddbSvc, err := dynamodb.Open(octx, dynamodb.Config{KV: ddbKV, NC: nc, Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az, Replicas: rep,
		MaxItemBytes: cfg.DynamoDBMaxItemBytes})
	if err != nil {
		return err
	}
	defer ddbSvc.Close()
	// What sends to queues and topics (SNS subscriptions, Lambda's
	// destinations and dead-letter targets) reaches them through tg.
	tg := &targets{sqs: sqsSvc}
	arns := registry.ARNs{Partition: "aws", Region: cfg.Region, Account: cfg.AccountID}
	puller := &image.Puller{Registries: cfg.ImageRegistries}
	if cfg.ImageLayoutDir != "" {
		puller.LayoutDirs = []string{cfg.ImageLayoutDir}
	}
	cache, err := image.NewCache(filepath.Join(cfg.DataDir, "image-cache"), puller, 0)
	if err != nil {
		return err
	}
	images := &imageGate{Cache: cache}
	reg, err := registry.Open(octx, registry.Config{
		ARNs: arns, KV: kv, Code: code, AccountConcurrency: cfg.AccountConcurrency, Logger: log,
		CheckRuntime: rts.Check, Networks: ec2Svc, EnvKeys: kms.ServiceKeys{KMS: kmsSvc, Service: "lambda"},
		Images: images,
	})
	if err != nil {
		return err
	}
	defer reg.Close()

	driver, sandboxNet, err := pickDriver(ctx, cfg, log)
	if err != nil {
		return err
	}
	if driver.Name() == "process" {
		images.refuse("Container-image functions need the linux sandbox driver (kumo server --sandbox linux, as root); this server runs the process driver.")
	}
	if sandboxNet != nil {
		defer sandboxNet.Close() // after the driver and the worker
	}
	if err := driver.Cleanup(ctx); err != nil {
		return fmt.Errorf("cleaning up sandboxes of an earlier run: %w", err)
	}
	if c, ok := driver.(io.Closer); ok {
		defer c.Close() // after the worker has destroyed its sandboxes
	}
	var edgeURL sandboxEdge
	edgeURL.set(driver, cfg.Listen) // the port may still change: set again once listening
	prov := invoke.NewProvisioned(reg)
	wk := worker.New(worker.Config{
		Driver:         driver,
		Policy:         ec2Svc.Policy,
		Code:           &worker.CodeCache{Dir: filepath.Join(cfg.DataDir, "code-cache"), Blobs: code},
		Images:         cache,
		Region:         cfg.Region,
		Logs:           logStore,
		Logger:         log,
		IdleTimeout:    cfg.KeepAlive,
		KeepAlive:      cfg.NewKeepAlivePolicy(),
		MemoryBudgetMB: cfg.MemoryBudgetMB,
		Live:           reg.LiveKey,
		Runtimes:       rts,
		Provisioned:    prov,
		Credentials:    roleMinter{issuer},
		SandboxEdgeURL: edgeURL.URL,
	})
	defer wk.Close()
	// Provisioned concurrency follows the registry's view: watched first,
	// so no change between the first push and the watch is missed.
	// The worker, or in a cluster its share, is attached by clusterRunner.
	regChanged, stopWatch := reg.Watch()
	defer stopWatch()
	go func() {
		for range regChanged {
			prov.Sync()
		}
	}()
	mx := metrics.New()
	registerNode(mx, cfg, node, rep)
	mx.Register(metrics.GaugeFunc("kumo_sandboxes", "Sandboxes on this node by lifecycle state.", "state", func() map[string]float64 {
		out := map[string]float64{}
		for st, n := range wk.Stats() {
			out[st.String()] = float64(n)
		}
		return out
	}))
	mx.Register(metrics.GaugeFunc("kumo_disk_free_bytes", "Bytes free on the data dir's file system; writes are refused below the reserve logged at start.", "data_dir", func() map[string]float64 {
		sp, err := ns.Space()
		if err != nil {
			return nil
		}
		return map[string]float64{sp.Dir: float64(sp.Free)}
	}))
	asyncCfg := asyncq.Config{Settings: reg, ARNs: arns, Logger: log, Metrics: mx, Journal: filepath.Join(cfg.DataDir, "async-journal"),
		RetryDelays: cfg.AsyncRetryDelays, AckWait: cfg.AsyncAckWait, Writable: ns.Writable, Targets: tg, Replicas: rep}
	queue, err := asyncq.Open(octx, nc, asyncCfg)
	if err != nil {
		return err
	}
	defer queue.Close() // before the worker closes
	runner, closeRunner, err := clusterRunner(cfg, nc, node, wk, prov, mx, log)
	if err != nil {
		return err
	}
	defer closeRunner()
	invoker := &invoke.Frontend{Resolver: reg, Runner: runner, Metrics: mx, Queue: queue}

	// SNS: topics in their bucket, deliveries through the stream; lambda
	// subscriptions invoke as sns.amazonaws.com, checked against the
	// function's policy; sqs subscriptions deliver through tg.
	snsKV, err := st.KV(octx, natsd.SNSBucket)
	if err != nil {
		return fmt.Errorf("sns bucket: %w", err)
	}
	snsKey, err := keys.snsSigningKey(octx)
	if err != nil {
		return fmt.Errorf("sns signing key: %w", err)
	}
	// The edge's URL in what SNS sends (SigningCertURL, SubscribeURL):
	// the listen address until the edge listens, then its real one.
	var publicEdge atomic.Pointer[string]
	publicEdge.Store(ptr(hostLoopbackURL(cfg.Listen)))
	snsSvc, err := kumosns.Open(octx, kumosns.Config{KV: snsKV, NATS: nc, Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az,
		SigningKey: snsKey, EdgeURL: func() string { return *publicEdge.Load() },
		Invoker: &lambdaapi.InvokeGuard{Invoker: invoker, Authorizer: az, Policies: &authz.FunctionPolicies{Statements: reg.Policy}, ARNs: arns},
		Queues:  tg, Writable: ns.Writable, Replicas: rep})
	if err != nil {
		return err
	}
	defer snsSvc.Close() // before the async queue closes
	tg.sns = snsSvc
	// CloudWatch Logs subscription filters invoke as logs.amazonaws.com
	// for the log group, checked against the function's policy (also with
	// authentication off: the permission is part of the API's contract).
	logAuthz := az
	if logAuthz == nil {
		logAuthz = authz.New(authz.Config{Region: cfg.Region})
	}
	fnPolicies := &authz.FunctionPolicies{Statements: reg.Policy}
	logStore.SetFunctions(&logFunctions{reg: reg, policies: fnPolicies, arns: arns, check: logAuthz,
		invoker: &lambdaapi.InvokeGuard{Invoker: invoker, Authorizer: logAuthz, Policies: fnPolicies, ARNs: arns}})
	for _, c := range logStore.Collectors() {
		mx.Register(c)
	}
	// EventBridge: buses and rules in their bucket, events and deliveries
	// through the stream; Lambda targets invoke as events.amazonaws.com,
	// checked against the function's policy; SQS and SNS targets and
	// dead-letter queues through tg, which also takes Lambda's
	// destination records for event buses.
	eventsKV, err := st.KV(octx, natsd.EventsBucket)
	if err != nil {
		return fmt.Errorf("events bucket: %w", err)
	}
	eventsSvc, err := kumoevents.Open(octx, kumoevents.Config{KV: eventsKV, Writable: ns.Writable, NATS: nc, Region: cfg.Region, Account: cfg.AccountID, Logger: log, Authorizer: az,
		Invoker: &lambdaapi.InvokeGuard{Invoker: invoker, Authorizer: az, Policies: &authz.FunctionPolicies{Statements: reg.Policy}, ARNs: arns},
		Targets: tg, ScheduleMinute: cfg.ScheduleMinute, Replicas: rep})
	if err != nil {
		return err
	}
	defer eventsSvc.Close() // before the async queue closes
	tg.events = eventsSvc
	// EventBridge Scheduler: schedules in their bucket, fired through
	// EventBridge's delivery path; stopped before it.
	schedKV, err := st.KV(octx, natsd.SchedulerBucket)
	if err != nil {
		return fmt.Errorf("scheduler bucket: %w", err)
	}
	schedSvc, err := kumoscheduler.Open(octx, kumoscheduler.Config{KV: schedKV, Region: cfg.Region, Account: cfg.AccountID, Events: eventsSvc,
		Authorizer: az, Logger: log, ScheduleMinute: cfg.ScheduleMinute})
	if err != nil {
		return err
	}
	defer schedSvc.Close()
	// The async queue drains only now that every target it sends to is
	// open.
	if err := queue.Start(ctx, invoker); err != nil {
		return err
	}

	urlKey, err := keys.key(octx, secretURLSigning, urlKeyFile)
	if err != nil {
		return fmt.Errorf("url signing key: %w", err)
	}
	codeURLs := &lambdaapi.CodeURLs{Key: urlKey, Code: code}
	// Event source mappings: pollers invoke as the function's own
	// poller; stopped (deferred) before the invoker and SQS.
	esmKV, err := st.KV(octx, natsd.ESMBucket)
	if err != nil {
		return fmt.Errorf("esm bucket: %w", err)
	}
	mappings, err := esm.Open(octx, esm.Config{KV: esmKV, Functions: reg, Queues: sqsSvc, Streams: ddbSvc, Targets: tg, Invoker: invoker, ARNs: arns, Logger: log, Node: node})
	if err != nil {
		return err
	}
	defer mappings.Close()
	api := lambdaapi.New(lambdaapi.Config{Registry: reg, ARNs: arns, Logger: log, CodeURLs: codeURLs, Invoker: invoker, Authorizer: az, ESM: mappings})

	var verifier *awsproto.Verifier
	var creds Credentials
	if cfg.AuthDisabled {
		log.Warn("authentication is OFF (--insecure-no-auth): every request is accepted as the account root; use this for throwaway local work only")
	} else {
		var generated bool
		creds, generated, err = keys.credentials(octx, cfg.Root)
		if err != nil {
			return fmt.Errorf("root credentials: %w", err)
		}
		verifier = &awsproto.Verifier{Region: cfg.Region, Credentials: &token.Store{Issuer: issuer,
			RootKeyID: creds.AccessKeyID, RootSecret: creds.SecretAccessKey, Root: token.Root(arns.Partition, cfg.AccountID), Keys: iamDir},
			GlobalRegions: map[string]string{kumoiam.SigningName: kumoiam.SigningRegion}}
		mx.Register(az.Collector())
		if generated {
			log.Info("generated root credentials", "file", cfg.DataDir+"/"+CredentialsFile)
		}
	}
	var isReady atomic.Bool
	spool := filepath.Join(cfg.DataDir, "spool")
	if err := os.RemoveAll(spool); err != nil {
		return fmt.Errorf("spool dir: %w", err)
	}
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return fmt.Errorf("spool dir: %w", err)
	}
	s3KV, err := st.KV(octx, natsd.S3Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket: %w", err)
	}
	s3Blobs, err := st.Blobs(octx, natsd.S3Objects)
	if err != nil {
		return fmt.Errorf("s3 object store: %w", err)
	}
	// S3's event notifications leave through its outbox stream: functions
	// are invoked as s3.amazonaws.com, checked against their policy.
	s3Policies := &authz.FunctionPolicies{Statements: reg.Policy}
	s3Svc := kumos3.New(kumos3.Config{KV: s3KV, Blobs: s3Blobs, Verifier: verifier, Authorizer: az, Region: cfg.Region, Account: cfg.AccountID, Logger: log,
		NATS: nc, Replicas: rep, Destinations: &s3Destinations{t: tg, reg: reg, az: az, policies: s3Policies, arns: arns,
			invoker: &lambdaapi.InvokeGuard{Invoker: invoker, Authorizer: az, Policies: s3Policies, ARNs: arns}}})
	if err := s3Svc.Start(octx); err != nil {
		return err
	}
	defer s3Svc.Close() // before the async queue, SQS and SNS close
	// API Gateway: APIs in their bucket, served from the view a watch
	// keeps; integrations invoke as apigateway.amazonaws.com, checked
	// against the function's policy.
	apigwKV, err := st.KV(octx, natsd.APIGatewayBucket)
	if err != nil {
		return fmt.Errorf("apigateway bucket: %w", err)
	}
	apigwState, err := apigateway.Open(ctx, apigwKV, log)
	if err != nil {
		return err
	}
	restUsage, err := restapi.OpenUsage(octx, apigwKV)
	if err != nil {
		return err
	}
	opened = true // every bucket and stream is open: the next member's turn
	unlockOpen()
	opening.Set("")
	apigwAPI := httpapi.New(httpapi.Config{State: apigwState, Region: cfg.Region, Account: cfg.AccountID, Authorizer: az, Logger: log,
		EdgeURL: func() string { return *publicEdge.Load() }})
	executeAPI := execute.New(execute.Config{State: apigwState, Verifier: verifier, Authorizer: az, Region: cfg.Region, Account: cfg.AccountID, Logger: log,
		Invoker: &lambdaapi.InvokeGuard{Invoker: invoker, Authorizer: az, Policies: &authz.FunctionPolicies{Statements: reg.Policy}, ARNs: arns},
		APIKeys: restUsage})
	defer executeAPI.Close()
	urls := funcurl.New(funcurl.Config{Registry: reg, Invoker: invoker, Verifier: verifier, Authorizer: az,
		Region: cfg.Region, Account: cfg.AccountID, Logger: log})
	edgeHandler := edge.New(edge.Config{
		Verifier: verifier,
		Routes: routes(services{lambda: writeGuard(ns.Writable, awsproto.Lambda, awsproto.ServiceException, api),
			logs:    writeGuard(ns.Writable, logs.Errors, awsproto.LogsServiceUnavailable, logStore.HandlerWith(az)),
			metrics: mx.Handler(), urls: urls, code: codeURLs,
			sts: sts.New(sts.Config{Issuer: issuer, Partition: arns.Partition, Account: cfg.AccountID, Logger: log, Authorizer: az}),
			ec2: ec2Svc, iam: kumoiam.New(kumoiam.Config{Directory: iamDir, Logger: log, Authorizer: az}),
			sqs: sqsSvc, sns: snsSvc, snsCert: snsSvc.CertHandler(), snsLink: snsSvc.ConfirmHandler(), snsUnsub: snsSvc.UnsubscribeHandler(),
			s3: s3Svc, kms: kmsSvc, secrets: smSvc, dynamodb: ddbSvc, region: cfg.Region, events: eventsSvc, scheduler: schedSvc,
			apigw: writeGuard(ns.Writable, httpapi.Errors, awsproto.InternalFailure, apigwAPI), execute: executeAPI,
			restapi: writeGuard(ns.Writable, restapi.Errors, awsproto.InternalFailure,
				restapi.New(restapi.Config{State: apigwState, Usage: restUsage, Region: cfg.Region, Account: cfg.AccountID, Authorizer: az, Logger: log}))}),
		Ready:    isReady.Load,
		Node:     nodeLine(cfg, node),
		Logger:   log,
		SpoolDir: spool,
	})

	stopStarting()
	tcp, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln := edge.LimitListener(tcp, cfg.MaxConnections)
	edgeURL.set(driver, tcp.Addr().String())
	publicEdge.Store(ptr(hostLoopbackURL(tcp.Addr().String())))
	mx.Register(metrics.GaugeFunc("kumo_edge_connections", "Edge port connections: open now (open), and refused over --max-connections since the start (refused).", "state", func() map[string]float64 {
		return map[string]float64{"open": float64(ln.Active()), "refused": float64(ln.Refused())}
	}))
	// ReadHeaderTimeout bounds connections that send headers slowly or
	// not at all; bodies are paced by the edge per request (a whole-
	// request ReadTimeout would cut large uploads on slow links).
	srv := &http.Server{Handler: edgeHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ConnState: ln.ConnState, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ln) }()
	if sandboxNet != nil {
		// Sandboxes reach the edge on the bridge address (EdgeURL), at
		// the edge's own port when it is free there.
		raw, err := sandboxNet.ListenEdge(ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			srv.Close()
			return err
		}
		// Sandboxes have a connection limit of their own, so that
		// functions opening connections by the thousand cannot crowd
		// out the edge port's clients (nor the reverse).
		eln := edge.LimitListener(raw, cfg.MaxConnections)
		ssrv := &http.Server{Handler: edgeHandler, ReadHeaderTimeout: srv.ReadHeaderTimeout, IdleTimeout: srv.IdleTimeout,
			MaxHeaderBytes: srv.MaxHeaderBytes, ConnState: eln.ConnState, ErrorLog: srv.ErrorLog}
		go func() { errc <- ssrv.Serve(eln) }()
		defer ssrv.Close()
		edgeURL.setURL(sandboxNet.EdgeURL())
		log.Info("sandboxes reach the edge", "url", sandboxNet.EdgeURL())
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", mx.Handler())
		msrv := &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		go func() { errc <- msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("serving /metrics without authentication", "metrics_listen", mln.Addr().String())
	}
	isReady.Store(true)
	addr := ln.Addr().String()
	log.Info("kumo is ready", "listen", addr, "region", cfg.Region, "account", cfg.AccountID, "data_dir", cfg.DataDir,
		"node", node, "zone", cfg.Cluster.Zone, "replicas", rep)
	log.Info("to use it: eval \"$(kumo env --data-dir " + shellQuote(cfg.DataDir) + " --endpoint http://" + addr + ")\" then aws lambda list-functions")
	if ready != nil {
		ready(addr)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	isReady.Store(false)
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func ptr[T any](v T) *T { return &v }

// openKMS takes the master key from keys (the given one, the data dir's or
// the cluster's), loads a previous one being rotated out, and opens the
// KMS service on its bucket.
func openKMS(ctx context.Context, cfg config.Config, st store.Store, keys *keyring, az *authz.Authorizer, writable func() error, log *slog.Logger) (*kms.Service, error) {
	var previous []*kms.MasterKey
	if cfg.KMSPreviousMasterKeyFile != "" {
		old, err := kms.LoadMasterKey(cfg.KMSPreviousMasterKeyFile, "", "")
		if err != nil {
			return nil, fmt.Errorf("previous %w", err)
		}
		previous = append(previous, old)
	}
	master, err := keys.kmsMaster(ctx, cfg, previous)
	if err != nil {
		return nil, err
	}
	kv, err := st.KV(ctx, natsd.KMSBucket)
	if err != nil {
		return nil, fmt.Errorf("kms bucket: %w", err)
	}
	return kms.Open(ctx, kms.Config{KV: kv, Writable: writable, Master: master, Previous: previous, Partition: "aws", Region: cfg.Region,
		Account: cfg.AccountID, Logger: log, Authorizer: az})
}
