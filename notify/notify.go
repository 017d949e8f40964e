package notify

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/store"
	"golang.org/x/text/language"
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

// Store is what the notifier keeps in the Env's store: counters for the
// hourly fold and a small state per user (when the last failed-second-step
// message went out). Every twofactor.Store implements it; sharing the
// Service's store across app instances makes the fold hold across them.
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

// Config configures the security emails. It is a
// twofactor.ListenerConfig: give it to twofactor.Config.Listeners and the
// Service builds the Notifier with its Env (store, Users lookup, events,
// clock). Zero fields take the documented defaults; New validates the
// whole and reports what to fix.
type Config struct {
	// Sender delivers the messages: emailcode.NewSMTP in production, an
	// *emailcode.Outbox in development. Required.
	Sender emailcode.Sender

	// ProductName starts every subject ("Example: ..."). Empty leaves it
	// out.
	ProductName string

	// Links are the pages messages link to.
	Links Links

	// Off lists the kinds not to send; every other kind is sent.
	Off []Kind

	// Languages are the messages' texts by language (the "notify." keys
	// of package i18n's catalogue). Nil means i18n.Default(). A message
	// speaks the language of the request whose event it tells of (see
	// i18n.WithLanguage; twofactorhttp marks it), else the user's
	// (twofactor.User.Language), else English.
	Languages *i18n.Catalog

	// Strings, when set, is the text of every message, whatever its
	// language. Its empty fields take the catalogue's text for
	// Strings.Lang. Nil means the catalogue, per message.
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
}

var (
	_ twofactor.ListenerConfig = Config{}
	_ twofactor.Listener       = (*Notifier)(nil)
)

// NewListener builds the Notifier with the Service's Env: see New.
func (c Config) NewListener(env twofactor.Env) (twofactor.Listener, error) {
	n, err := New(env, c)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// On reports whether kind k is sent, for a settings page.
func (c Config) On(k Kind) bool { return k.valid() && !slices.Contains(c.Off, k) }

// Enabled returns the kinds that are sent, in the order of Kinds, for a
// settings page: it needs the Config only, not the Notifier the Service
// built from it.
func (c Config) Enabled() []Kind {
	return slices.DeleteFunc(Kinds(), func(k Kind) bool { return !c.On(k) })
}

// Name returns kind k's name for a settings page
// (Strings.Kinds[k].Name) in English, or from Config.Strings when set.
func (c Config) Name(k Kind) string { return c.NameIn(language.English, k) }

// NameIn returns kind k's name in the language of the catalogue that best
// serves tag, or from Config.Strings when set.
func (c Config) NameIn(tag language.Tag, k Kind) string {
	if c.Strings != nil && c.Strings.Kinds[k].Name != "" {
		return c.Strings.Kinds[k].Name
	}
	cat := cmp.Or(c.Languages, i18n.Default())
	return cat.String(cat.Match(tag), stringsPrefix+"Kinds."+string(k)+".Name")
}

// EnabledNames returns the names of the kinds sent, for a settings page,
// in the language ctx carries (the page's: twofactorhttp marks it), else
// English: the Notifications of twofactorhttp.Config is
//
//	func(r *http.Request) []string { return cfg.EnabledNames(r.Context()) }
func (c Config) EnabledNames(ctx context.Context) []string {
	tag, _ := i18n.FromContext(ctx)
	var out []string
	for _, k := range c.Enabled() {
		out = append(out, c.NameIn(tag, k))
	}
	return out
}

// A Notifier sends security notifications by email from the events it
// hears: build it from a Config given to twofactor.Config.Listeners (the
// Service then hands it every event and stops it in Service.Shutdown), or
// with New. It is safe for concurrent use.
type Notifier struct {
	sender      emailcode.Sender
	env         twofactor.Env // Users (through env.User), Events for warnings
	st          Store
	product     string
	links       Links
	off         map[Kind]bool
	langs       map[language.Tag]*Strings
	fixed       *Strings // Config.Strings
	cat         *i18n.Catalog
	tmpl        templates
	loc         *time.Location
	locate      func(netip.Addr) string
	period      time.Duration
	grace       time.Duration
	maxPending  int
	sendTimeout time.Duration
	now         func() time.Time

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
	ctx context.Context
	ev  event.Event
}

func configErr(format string, args ...any) error { return errs.Config("notify", format, args...) }

// New validates cfg and starts the notifier's workers. From env it takes
// the store (which counts failed second steps across app instances, see
// Store), Users (events carry user ids, never addresses: messages go to
// User.Email and greet User.DisplayName), Events (the notifier's own
// warnings) and Now. Errors wrap twofactor.ErrConfig and say what to
// change; a nil env.Users is one.
func New(env twofactor.Env, cfg Config) (*Notifier, error) {
	st, env, err := errs.Store[Store]("notify", env, reflect.TypeFor[store.Counters](), reflect.TypeFor[store.States]())
	if err != nil {
		return nil, err
	}
	if env.Users == nil {
		return nil, configErr("Config.Users is needed for security emails: give twofactor.Config.Users (Env.Users), the lookup from user id to twofactor.User, since events carry ids, never addresses")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cat := cmp.Or(cfg.Languages, i18n.Default())
	langs := map[language.Tag]*Strings{}
	for _, tag := range cat.Languages() {
		s, err := StringsFor(cat, tag)
		if err != nil {
			return nil, err
		}
		if err := s.check(); err != nil {
			return nil, err
		}
		langs[tag] = s
	}
	var fixed *Strings
	if cfg.Strings != nil {
		var err error
		if fixed, err = cfg.Strings.complete(cat); err != nil {
			return nil, err
		}
	}
	off := make(map[Kind]bool, len(cfg.Off))
	for _, k := range cfg.Off {
		off[k] = true
	}
	queue := cmp.Or(cfg.QueueSize, DefaultQueueSize)
	n := &Notifier{
		sender: cfg.Sender, env: env, st: st, product: cfg.ProductName, links: cfg.Links, off: off,
		langs: langs, fixed: fixed, cat: cat, tmpl: cfg.Templates.resolve(), loc: cmp.Or(cfg.Location, time.UTC), locate: cfg.Locate,
		period: cmp.Or(cfg.Period, DefaultPeriod), grace: cmp.Or(cfg.Grace, DefaultGrace), maxPending: queue,
		sendTimeout: cmp.Or(cfg.SendTimeout, DefaultSendTimeout), now: env.Now,
		jobs: make(chan job, queue), wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), pending: make(map[string]*batch),
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

// check validates the fields of c that need nothing else.
func (c Config) check() error {
	if c.Sender == nil {
		return configErr("Config.Sender is nil: use emailcode.NewSMTP, or an *emailcode.Outbox in development")
	}
	for _, k := range c.Off {
		if !k.valid() {
			return configErr("Config.Off names %q, which is not a kind (see Kinds)", k)
		}
	}
	switch {
	case c.Period < 0:
		return configErr("Config.Period must not be negative (zero means 1 hour)")
	case c.Grace < 0 && c.Grace != NoGrace:
		return configErr("Config.Grace must not be negative: zero means 5 minutes, NoGrace none")
	case c.Grace > time.Hour:
		return configErr("Config.Grace %s is longer than an hour: an alert should be timely", c.Grace)
	case c.QueueSize < 0 || c.Workers < 0 || c.SendTimeout < 0:
		return configErr("Config.QueueSize, Workers and SendTimeout must not be negative (zero means the default)")
	}
	for _, l := range []struct{ name, url string }{
		{"Security", c.Links.Security}, {"Devices", c.Links.Devices}, {"Password", c.Links.Password},
	} {
		if l.url == "" {
			continue
		}
		p, err := url.Parse(l.url)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return configErr("Config.Links.%s %q must be an absolute http(s) URL: messages are read outside the app", l.name, l.url)
		}
	}
	return nil
}

// checkTemplates renders every kind with sample data.
func (n *Notifier) checkTemplates() error {
	at := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	for _, k := range allKinds {
		f := facts{kind: k, user: twofactor.User{ID: "sample", DisplayName: "Sample"}, time: at,
			method: twofactor.MethodSMS, label: "+1 *** *** **12", ip: "192.0.2.1", browser: "Firefox on Linux",
			device: "Firefox on Linux", actor: "support", until: at.Add(time.Hour), remaining: 2, attempts: 2,
			foldedCount: 3, since: at.Add(-time.Hour), text: n.text(context.Background(), "")}
		if _, err := n.tmpl.render(n.data(f)); err != nil {
			return configErr("Templates: %s: %v", k, err)
		}
	}
	return nil
}

// On reports whether kind k is sent (see Config.On).
func (n *Notifier) On(k Kind) bool { return k.valid() && !n.off[k] }

// Enabled returns the kinds that are sent, in the order of Kinds (see
// Config.Enabled).
func (n *Notifier) Enabled() []Kind {
	return slices.DeleteFunc(Kinds(), func(k Kind) bool { return n.off[k] })
}

// Strings returns the notifier's string table in English (or
// Config.Strings), for a page that names the kinds
// (Strings().Kinds[k].Name). Do not change it.
func (n *Notifier) Strings() *Strings { return n.text(context.Background(), "") }

// text returns the table of a message to a user of language userLang,
// sent for an event of ctx.
func (n *Notifier) text(ctx context.Context, userLang string) *Strings {
	if n.fixed != nil {
		return n.fixed
	}
	if s := n.langs[n.cat.MessageLanguage(ctx, userLang)]; s != nil {
		return s
	}
	return n.langs[language.English]
}

// HandleEvent takes one event (twofactor.Listener). It never blocks and
// never fails: it keeps what a message needs and queues it for a worker,
// so sending never slows the request that emitted the event. An event
// that finds the queue full, or the notifier shut down, is dropped with a
// warning event.
func (n *Notifier) HandleEvent(ctx context.Context, ev event.Event) {
	if !n.wants(ev) {
		return
	}
	// Messages are made of the typed fields alone; the free-form Details
	// are for logs.
	ev.Details = nil
	j := job{ctx: context.WithoutCancel(ctx), ev: ev}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.warn(ctx, ev.UserID, "", ReasonClosed, nil)
		return
	}
	select {
	case n.jobs <- j:
	default:
		n.warn(ctx, ev.UserID, "", ReasonQueueFull, nil)
	}
}

// wants reports whether ev may lead to a message, or is needed to
// withhold one.
func (n *Notifier) wants(ev event.Event) bool {
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
	return ok && n.On(k)
}

func (n *Notifier) work() {
	defer n.workers.Done()
	for j := range n.jobs {
		if err := n.base.Err(); err != nil {
			n.warn(j.ctx, j.ev.UserID, "", ReasonAbandoned, err)
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
	f := facts{kind: k, time: ev.Time, method: ev.Method, label: oneLine(ev.Label), ip: ev.IP, actor: ev.Actor,
		browser: browserLabel(ev.UserAgent)}
	switch k {
	case TurnedOff, BackupCodesRegenerated, AdminReset:
		f.method, f.label = "", ""
	case BackupCodesLow:
		f.method, f.label = "", ""
		f.remaining = ev.Count
	case RecoveryCodeIssued:
		f.method, f.label = "", ""
		f.until = ev.Until
	case DeviceTrusted:
		f.device, f.label = f.label, ""
		f.until = ev.Until
	case Lockout:
		f.attempts = ev.Count
		f.until = ev.Until
	}
	n.send(ctx, user, f)
}

// user looks up the user an event is about; false when there is no one to
// write to (reported with a warning event).
func (n *Notifier) user(ctx context.Context, id string, k Kind) (twofactor.User, bool) {
	u, err := n.env.User(ctx, id)
	if err != nil {
		n.warn(ctx, id, k, ReasonUserFailed, err)
		return twofactor.User{}, false
	}
	if strings.TrimSpace(u.Email) == "" {
		n.warn(ctx, id, k, ReasonNoAddress, nil)
		return twofactor.User{}, false
	}
	return u, true
}

// send renders and delivers one message. A failure is a warning event.
func (n *Notifier) send(ctx context.Context, user twofactor.User, f facts) {
	f.user = user
	f.text = n.text(ctx, user.Language)
	m, err := n.tmpl.render(n.data(f))
	if err != nil {
		n.warn(ctx, user.ID, f.kind, ReasonRenderFailed, err)
		return
	}
	m.To = user.Email
	if err := n.sender.Send(ctx, m); err != nil {
		// The error may quote the address; events never carry one.
		err = errors.New(strings.ReplaceAll(err.Error(), user.Email, emailcode.Mask(user.Email)))
		n.warn(ctx, user.ID, f.kind, ReasonSendFailed, err)
	}
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

// Reasons of the notifier's warning events (event.Warning, to
// the Env's Events): a message that was not sent, and why.
const (
	ReasonQueueFull    event.Reason = "notify_queue_full"    // an event found the queue full and was dropped
	ReasonClosed       event.Reason = "notify_closed"        // an event came after Shutdown and was dropped
	ReasonAbandoned    event.Reason = "notify_abandoned"     // Shutdown's deadline passed before the message went out
	ReasonUserFailed   event.Reason = "notify_user_failed"   // Config.Users failed for the user (Details "error")
	ReasonNoAddress    event.Reason = "notify_no_address"    // the user has no email address
	ReasonRenderFailed event.Reason = "notify_render_failed" // a template failed (Details "error")
	ReasonSendFailed   event.Reason = "notify_send_failed"   // the Sender failed (Details "error", the address masked)
	ReasonCountFailed  event.Reason = "notify_count_failed"  // the store failed while counting failed second steps
)

// warn emits a warning event about a message. It never names an address.
func (n *Notifier) warn(ctx context.Context, userID string, k Kind, reason event.Reason, err error) {
	ev := event.Event{Type: event.Warning, UserID: userID, Reason: reason, Time: n.now()}
	if k != "" || err != nil {
		ev.Details = map[string]string{}
		if k != "" {
			ev.Details[event.DetailNotification] = string(k)
		}
		if err != nil {
			ev.Details[event.DetailError] = err.Error()
		}
	}
	n.env.Events.Emit(ctx, ev)
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
