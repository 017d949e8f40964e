package notify

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/store"
)

// Defaults applied by New to zero fields.
const (
	DefaultPeriod      = time.Hour
	DefaultGrace       = 5 * time.Minute
	DefaultQueueSize   = 1000
	DefaultWorkers     = 2
	DefaultSendTimeout = 30 * time.Second
)

// NoGrace, as Config.Grace, sends a failed second step's message at once,
// without waiting to see whether the same sign-in then succeeds.
const NoGrace time.Duration = -1

// Store is what the notifier keeps in the store: counters for the hourly
// fold and a small state per user (when the last failed-second-step
// message went out). Every twofactor.Store implements it: give the
// Service's store, so the fold holds across app instances.
type Store interface {
	store.Counters
	store.States
}

// Links are the absolute URLs messages link to. Each is optional.
type Links struct {
	// Security is the account's security settings page; every message
	// links to it unless a link below fits better.
	Security string
	// Devices is the trusted-devices page, for DeviceTrusted.
	Devices string
	// Password is the change-password page, for FailedSecondStep and
	// Lockout.
	Password string
}

// Config configures a Notifier. Zero fields take the documented defaults;
// New validates the whole and reports what to fix.
type Config struct {
	// Sender delivers the messages: emailcode.NewSMTP in production, an
	// *emailcode.Outbox in development. Required.
	Sender emailcode.Sender

	// Users looks a user up by id: events carry ids only, never
	// addresses. Messages go to User.Email and greet User.DisplayName. A
	// user without an email address gets no message (and a warning
	// event). Required.
	Users func(ctx context.Context, userID string) (twofactor.User, error)

	// Store keeps the fold of failed second steps: give the Service's
	// store (twofactor.Config.Store). Required unless FailedSecondStep is
	// off.
	Store Store

	// ProductName starts every subject ("Example: ..."). Empty leaves it
	// out.
	ProductName string

	// Links are the pages messages link to.
	Links Links

	// Off lists the kinds not to send; every other kind is sent.
	Off []Kind

	// Strings is the text of every message. Nil means DefaultStrings()
	// (English). Copy it and change what you translate.
	Strings *Strings

	// Templates override the messages' layout.
	Templates Templates

	// Location is the time zone of the times in messages. Nil means UTC.
	Location *time.Location

	// Locate, if set, names the place of a client address ("Paris,
	// France"), from the host's geolocation database; messages show it
	// after the address. An empty answer shows the address alone.
	Locate func(netip.Addr) string

	// Period is how often at most a user gets a FailedSecondStep message:
	// the attempts in between are counted and reported in the next one.
	// Zero means 1 hour.
	Period time.Duration

	// Grace is how long a failed second step waits before its message:
	// when the same sign-in then succeeds (a mistyped code, corrected),
	// nothing is sent. Zero means 5 minutes; NoGrace sends at once.
	Grace time.Duration

	// QueueSize bounds the events waiting for a worker, and the sign-ins
	// waiting out their grace. An event that finds the queue full is
	// dropped, with a warning event. Zero means 1000.
	QueueSize int

	// Workers is how many messages are prepared and sent at once. Zero
	// means 2.
	Workers int

	// SendTimeout bounds each message's lookups and delivery. Zero means
	// 30 seconds.
	SendTimeout time.Duration

	// Events receives the notifier's own warnings (a message that could
	// not be sent, a full queue). Nil means the Events given to
	// Notifier.Events, else slog.Default().
	Events *twofactor.Events

	// Now is the clock. Nil means time.Now. Give the store the same clock.
	Now func() time.Time
}

// A Notifier sends security notifications by email from the Service's
// events. Build it with New, hang it on the Service's events (Events or
// Hook), give it the Service (Attach), and Shutdown it when the app stops.
// It is safe for concurrent use.
type Notifier struct {
	sender      emailcode.Sender
	users       func(context.Context, string) (twofactor.User, error)
	st          Store
	product     string
	links       Links
	off         map[Kind]bool
	text        *Strings
	tmpl        templates
	loc         *time.Location
	locate      func(netip.Addr) string
	period      time.Duration
	grace       time.Duration
	maxPending  int
	sendTimeout time.Duration
	now         func() time.Time

	events atomic.Pointer[twofactor.Events]
	svc    atomic.Pointer[twofactor.Service]

	mu     sync.RWMutex // guards closed and sending on jobs
	closed bool
	jobs   chan job

	base      context.Context // cancelled when a Shutdown gives up waiting
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	scheduler sync.WaitGroup
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	shutdown  sync.Once

	pmu     sync.Mutex
	pending map[string]*batch // failed sign-ins waiting out their grace, by challenge id
}

// job is one event waiting for a worker.
type job struct {
	ctx     context.Context
	ev      twofactor.Event
	browser string
}

func configErr(format string, args ...any) error { return errs.Config("notify", format, args...) }

// New validates cfg and starts the notifier's workers. Errors wrap
// twofactor.ErrConfig and say what to change.
func New(cfg Config) (*Notifier, error) {
	if cfg.Sender == nil {
		return nil, configErr("Config.Sender is nil: use emailcode.NewSMTP, or an *emailcode.Outbox in development")
	}
	if cfg.Users == nil {
		return nil, configErr("Config.Users is nil: give a lookup from user id to twofactor.User (events carry ids, never addresses)")
	}
	for _, k := range cfg.Off {
		if !k.valid() {
			return nil, configErr("Config.Off names %q, which is not a kind (see Kinds)", k)
		}
	}
	off := make(map[Kind]bool, len(cfg.Off))
	for _, k := range cfg.Off {
		off[k] = true
	}
	if cfg.Store == nil && !off[FailedSecondStep] {
		return nil, configErr("Config.Store is nil: give the Service's store, which counts failed second steps across instances, or put FailedSecondStep in Config.Off")
	}
	switch {
	case cfg.Period < 0:
		return nil, configErr("Config.Period must not be negative (zero means 1 hour)")
	case cfg.Grace < 0 && cfg.Grace != NoGrace:
		return nil, configErr("Config.Grace must not be negative: zero means 5 minutes, NoGrace none")
	case cfg.Grace > time.Hour:
		return nil, configErr("Config.Grace %s is longer than an hour: an alert should be timely", cfg.Grace)
	case cfg.QueueSize < 0 || cfg.Workers < 0 || cfg.SendTimeout < 0:
		return nil, configErr("Config.QueueSize, Workers and SendTimeout must not be negative (zero means the default)")
	}
	for name, u := range map[string]string{"Security": cfg.Links.Security, "Devices": cfg.Links.Devices, "Password": cfg.Links.Password} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, configErr("Config.Links.%s %q must be an absolute http(s) URL: messages are read outside the app", name, u)
		}
	}
	text := cfg.Strings
	if text == nil {
		text = DefaultStrings()
	}
	if err := text.check(); err != nil {
		return nil, err
	}
	n := &Notifier{
		sender:      cfg.Sender,
		users:       cfg.Users,
		st:          cfg.Store,
		product:     cfg.ProductName,
		links:       cfg.Links,
		off:         off,
		text:        text,
		tmpl:        cfg.Templates.resolve(),
		loc:         cfg.Location,
		locate:      cfg.Locate,
		period:      cmp.Or(cfg.Period, DefaultPeriod),
		grace:       cmp.Or(cfg.Grace, DefaultGrace),
		maxPending:  cmp.Or(cfg.QueueSize, DefaultQueueSize),
		sendTimeout: cmp.Or(cfg.SendTimeout, DefaultSendTimeout),
		now:         cfg.Now,
		jobs:        make(chan job, cmp.Or(cfg.QueueSize, DefaultQueueSize)),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		pending:     make(map[string]*batch),
	}
	if n.loc == nil {
		n.loc = time.UTC
	}
	if n.now == nil {
		n.now = time.Now
	}
	if cfg.Events != nil {
		n.events.Store(cfg.Events)
	}
	if err := n.checkTemplates(); err != nil {
		return nil, err
	}
	n.base, n.cancel = context.WithCancel(context.Background())
	for range cmp.Or(cfg.Workers, DefaultWorkers) {
		n.workers.Add(1)
		go n.work()
	}
	n.scheduler.Add(1)
	go n.schedule()
	return n, nil
}

// checkTemplates renders every kind with sample data.
func (n *Notifier) checkTemplates() error {
	at := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	for _, k := range allKinds {
		f := facts{kind: k, user: twofactor.User{ID: "sample", DisplayName: "Sample"}, time: at,
			method: twofactor.MethodSMS, label: "+1 *** *** **12", ip: "192.0.2.1", browser: "Firefox on Linux",
			device: "Firefox on Linux", actor: "support", until: at.Add(time.Hour), remaining: 2, attempts: 2,
			foldedCount: 3, since: at.Add(-time.Hour)}
		if _, err := n.tmpl.render(n.data(f)); err != nil {
			return configErr("Templates: %s: %v", k, err)
		}
	}
	return nil
}

// On reports whether kind k is sent, for a settings page.
func (n *Notifier) On(k Kind) bool { return k.valid() && !n.off[k] }

// Enabled returns the kinds that are sent, in the order of Kinds.
func (n *Notifier) Enabled() []Kind {
	return slices.DeleteFunc(Kinds(), func(k Kind) bool { return n.off[k] })
}

// Strings returns the notifier's string table, for a settings page that
// names the kinds (Strings().Kinds[k].Name). Do not change it.
func (n *Notifier) Strings() *Strings { return n.text }

// Attach gives the notifier the Service whose events it hears, once New
// has built it. The notifier then reads the user's enrollments to tell a
// first second factor (TurnedOn) from another one (MethodAdded), to name
// the enrollment added, and to tell the removal of the last second factor
// (TurnedOff) from that of another (MethodRemoved). Without it every
// enrollment is a MethodAdded and every removal a MethodRemoved. Call it
// before serving requests.
func (n *Notifier) Attach(svc *twofactor.Service) { n.svc.Store(svc) }

// Events returns the events for twofactor.Config.Events: a copy of base
// (nil: log to slog.Default) whose hook also calls base's hook, then the
// notifier's. The notifier's own warnings go to it too, unless
// Config.Events was set.
func (n *Notifier) Events(base *twofactor.Events) *twofactor.Events {
	var e twofactor.Events
	if base != nil {
		e = *base
	}
	next := e.Hook
	e.Hook = func(ctx context.Context, ev twofactor.Event) {
		if next != nil {
			next(ctx, ev)
		}
		n.Hook(ctx, ev)
	}
	n.events.CompareAndSwap(nil, &e)
	return &e
}

// Hook takes one event, for twofactor.Events.Hook. It never blocks and
// never fails: it keeps what a message needs and queues it for a worker,
// so sending never slows the request that emitted the event. An event
// that finds the queue full, or the notifier shut down, is dropped with a
// warning event.
func (n *Notifier) Hook(ctx context.Context, ev twofactor.Event) {
	if !n.wants(ev) {
		return
	}
	j := job{ctx: context.WithoutCancel(ctx), ev: ev}
	if len(ev.Details) > 0 {
		j.ev.Details = make(map[string]string, len(ev.Details))
		for k, v := range ev.Details {
			j.ev.Details[k] = v
		}
	}
	if ua, ok := userAgent(ctx); ok {
		j.browser = browserLabel(ua)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.warn(ctx, ev.UserID, "", "notify_closed", nil)
		return
	}
	select {
	case n.jobs <- j:
	default:
		n.warn(ctx, ev.UserID, "", "notify_queue_full", nil)
	}
}

// wants reports whether ev may lead to a message, or is needed to
// withhold one.
func (n *Notifier) wants(ev twofactor.Event) bool {
	if ev.UserID == "" {
		return false
	}
	switch {
	case isFailedStep(ev):
		return n.On(FailedSecondStep)
	case isLoginSuccess(ev):
		return n.On(FailedSecondStep) && n.grace > 0
	}
	k, ok := classify(ev)
	switch {
	case !ok:
		return false
	case k == MethodAdded:
		return n.On(MethodAdded) || n.On(TurnedOn)
	case k == MethodRemoved:
		return n.On(MethodRemoved) || n.On(TurnedOff)
	}
	return n.On(k)
}

func (n *Notifier) work() {
	defer n.workers.Done()
	for j := range n.jobs {
		if err := n.base.Err(); err != nil {
			n.warn(j.ctx, j.ev.UserID, "", "notify_abandoned", err)
			continue
		}
		switch {
		case isFailedStep(j.ev):
			n.failed(j)
		case isLoginSuccess(j.ev):
			n.succeeded(j)
		default:
			n.notify(j)
		}
	}
}

// opCtx bounds one message's work: SendTimeout, and a Shutdown that gives
// up waiting.
func (n *Notifier) opCtx(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, n.sendTimeout)
	stop := context.AfterFunc(n.base, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// notify sends the message of one event.
func (n *Notifier) notify(j job) {
	ctx, cancel := n.opCtx(j.ctx)
	defer cancel()
	ev := j.ev
	k, _ := classify(ev)
	user, ok := n.user(ctx, ev.UserID, k)
	if !ok {
		return
	}
	f := facts{kind: k, user: user, time: ev.Time, method: ev.Method, ip: ev.IP, actor: ev.Actor, browser: j.browser}
	switch k {
	case MethodAdded:
		f.label = ev.Details["destination"]
		f.kind = n.added(ctx, user, ev, &f)
	case MethodRemoved:
		f.kind = n.removed(ctx, user, ev)
		if f.kind == TurnedOff {
			f.method = ""
		}
	case BackupCodesLow:
		f.method = ""
		f.remaining, _ = strconv.Atoi(ev.Details["remaining"])
	case BackupCodesRegenerated, RecoveryCodeIssued:
		f.method = ""
		f.until = parseTime(ev.Details["expires"])
	case DeviceTrusted:
		f.device = ev.Details["label"]
		f.until = parseTime(ev.Details["expires"])
	case Lockout:
		f.until = parseTime(ev.Details["until"])
	}
	if !n.On(f.kind) {
		return
	}
	n.send(ctx, user, f)
}

// user looks up the user an event is about; false when there is no one to
// write to (reported with a warning event).
func (n *Notifier) user(ctx context.Context, id string, k Kind) (twofactor.User, bool) {
	u, err := n.users(ctx, id)
	if err != nil {
		n.warn(ctx, id, k, "notify_user_failed", err)
		return twofactor.User{}, false
	}
	if strings.TrimSpace(u.Email) == "" {
		n.warn(ctx, id, k, "notify_no_address", nil)
		return twofactor.User{}, false
	}
	return u, true
}

// send renders and delivers one message. A failure is a warning event.
func (n *Notifier) send(ctx context.Context, user twofactor.User, f facts) {
	f.user = user
	m, err := n.tmpl.render(n.data(f))
	if err != nil {
		n.warn(ctx, user.ID, f.kind, "notify_render_failed", err)
		return
	}
	m.To = user.Email
	if err := n.sender.Send(ctx, m); err != nil {
		// The error may quote the address; events never carry one.
		err = errors.New(strings.ReplaceAll(err.Error(), user.Email, emailcode.Mask(user.Email)))
		n.warn(ctx, user.ID, f.kind, "notify_send_failed", err)
	}
}

// added tells a first second factor from another, and finds the new
// enrollment's label, through the attached Service.
func (n *Notifier) added(ctx context.Context, user twofactor.User, ev twofactor.Event, f *facts) Kind {
	svc := n.svc.Load()
	if svc == nil {
		return MethodAdded
	}
	es, err := svc.Enrollments(ctx, user)
	if err != nil {
		n.warn(ctx, user.ID, MethodAdded, "notify_enrollments_failed", err)
		return MethodAdded
	}
	id := ev.Details["enrollment"]
	others := 0
	for _, e := range es {
		if recovery(svc, e.Method) {
			continue
		}
		if e.Method == ev.Method && (id == "" || e.ID == id) {
			if f.label == "" {
				f.label = e.Label
			}
			continue
		}
		// An enrollment made after this one does not make this one the
		// second: each is judged as of its own event.
		if e.CreatedAt.After(ev.Time) {
			continue
		}
		others++
	}
	if others == 0 && ev.Details["replaced"] != "true" {
		return TurnedOn
	}
	return MethodAdded
}

// removed tells the removal of the last second factor from that of
// another, through the attached Service.
func (n *Notifier) removed(ctx context.Context, user twofactor.User, ev twofactor.Event) Kind {
	svc := n.svc.Load()
	if svc == nil || recovery(svc, ev.Method) {
		return MethodRemoved
	}
	es, err := svc.Enrollments(ctx, user)
	if err != nil {
		n.warn(ctx, user.ID, MethodRemoved, "notify_enrollments_failed", err)
		return MethodRemoved
	}
	for _, e := range es {
		if !recovery(svc, e.Method) && !e.CreatedAt.After(ev.Time) {
			return MethodRemoved
		}
	}
	return TurnedOff
}

// recovery reports whether m is a recovery-only method (backup codes).
func recovery(svc *twofactor.Service, m twofactor.Method) bool {
	if f, ok := svc.Factor(m); ok {
		r, ok := f.(twofactor.RecoveryFactor)
		return ok && r.Recovery()
	}
	return m == twofactor.MethodBackupCode
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// network returns a client address as messages show it.
func (n *Notifier) network(ip string) string {
	if n.locate == nil {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if place := oneLine(n.locate(a)); place != "" {
		return ip + " (" + place + ")"
	}
	return ip
}

// warn emits a warning event about a message. It never names an address.
func (n *Notifier) warn(ctx context.Context, userID string, k Kind, reason string, err error) {
	ev := twofactor.Event{Type: twofactor.EventWarning, UserID: userID, Reason: reason, Time: n.now()}
	if k != "" || err != nil {
		ev.Details = map[string]string{}
		if k != "" {
			ev.Details["notification"] = string(k)
		}
		if err != nil {
			ev.Details["error"] = err.Error()
		}
	}
	n.events.Load().Emit(ctx, ev)
}

// Shutdown stops taking events, sends what is queued (a failed sign-in
// still in its grace is decided at once), and waits for the last message.
// When ctx ends first it abandons what is left, cancels the sends under
// way and returns ctx.Err(), once the workers have let go of what was
// left (each abandoned message is a warning event). Events after Shutdown
// are dropped with a warning. Calling it again waits for the first call's
// work.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.shutdown.Do(func() {
		go func() {
			n.mu.Lock()
			n.closed = true
			close(n.jobs)
			n.mu.Unlock()
			n.workers.Wait()
			close(n.stop)
			n.scheduler.Wait()
			close(n.done)
		}()
	})
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline.
func (n *Notifier) Close() error { return n.Shutdown(context.Background()) }
