package ros

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
	"github.com/bluenviron/goroslib/v2/pkg/apislave"
)

// Conn is one ROS node's connection to the graph, as an actor: its goroutine
// registers the node and all its publishers and subscribers with the master,
// retries while the master is down, and re-registers everything after a
// master restart (goroslib does not). Declare publishers and subscribers
// before Start. Publisher.Write may be called from any goroutine.
type Conn struct {
	cfg  Config
	name string
	log  *slog.Logger

	mu       sync.RWMutex
	node     *goroslib.Node
	pubs     []*Publisher
	subs     []subSpec
	subsLive []*goroslib.Subscriber

	connected   atomic.Bool
	registered  atomic.Int64 // times registered (1 + re-registrations)
	connectedCh chan struct{}
	once        sync.Once
	// uri is this node's XML-RPC address as the master reported it after
	// registering; another address under our name later means another node
	// took it.
	uri string
	// fatal: the node cannot run (another node has its name).
	fatal     atomic.Pointer[error]
	fatalCh   chan struct{}
	fatalOnce sync.Once

	params map[string]string // set on the master at every registration

	cancel context.CancelFunc
	done   chan struct{}
}

// SetParam sets a string parameter on the master each time the node
// registers (also after a master restart); call before Start.
func (c *Conn) SetParam(key, value string) {
	if c.params == nil {
		c.params = map[string]string{}
	}
	c.params[key] = value
}

type subSpec struct {
	topic string
	cb    any
}

// NewConn returns an unstarted connection for the node name.
func NewConn(cfg Config, name string, log *slog.Logger) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Conn{cfg: cfg.WithDefaults(), name: name, log: log, connectedCh: make(chan struct{}), fatalCh: make(chan struct{})}, nil
}

// Config returns the configuration in use, defaults applied.
func (c *Conn) Config() Config { return c.cfg }

// Publisher is a publisher that survives re-registration. Write drops the
// message (counted) while the node is not registered.
type Publisher struct {
	c       *Conn
	topic   string
	msg     any
	latch   bool
	p       *goroslib.Publisher
	dropped atomic.Uint64
}

// Publish declares a publisher of msg's type (a pointer to a goroslib
// message) on topic.
func (c *Conn) Publish(topic string, msg any, latch bool) *Publisher {
	p := &Publisher{c: c, topic: topic, msg: msg, latch: latch}
	c.pubs = append(c.pubs, p)
	return p
}

// Subscribe declares a subscriber; cb is func(*Msg), called on goroslib's
// goroutine for the topic.
func (c *Conn) Subscribe(topic string, cb any) { c.subs = append(c.subs, subSpec{topic, cb}) }

// Write publishes msg (which must not be changed afterwards). It returns
// false when the node is not registered (the message is dropped).
func (p *Publisher) Write(msg any) bool {
	p.c.mu.RLock()
	defer p.c.mu.RUnlock()
	if p.p == nil {
		p.dropped.Add(1)
		return false
	}
	p.p.Write(msg)
	return true
}

// Dropped counts messages written while disconnected.
func (p *Publisher) Dropped() uint64 { return p.dropped.Load() }

// Connected reports whether the node is registered now.
func (c *Conn) Connected() bool { return c.connected.Load() }

// Registrations counts successful registrations (1 + re-registrations).
func (c *Conn) Registrations() int64 { return c.registered.Load() }

// Node returns the goroslib node while registered (for tests and tools).
func (c *Conn) Node() *goroslib.Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.node
}

// Start runs the actor until Close.
func (c *Conn) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		c.run(ctx)
	}()
}

// Fatal is closed when the node cannot run: another live node is
// registered under its name (at start: this one refuses to register), or
// registered under it later (this one stops). Err says which.
func (c *Conn) Fatal() <-chan struct{} { return c.fatalCh }

// Err returns the reason Fatal was closed (nil while it is not).
func (c *Conn) Err() error {
	if p := c.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Conn) fail(err error) {
	c.fatalOnce.Do(func() {
		c.fatal.Store(&err)
		c.log.Error(err.Error())
		close(c.fatalCh)
	})
}

// WaitConnected waits until the node is first registered.
func (c *Conn) WaitConnected(ctx context.Context) error {
	select {
	case <-c.connectedCh:
		return nil
	case <-c.fatalCh:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("ros: node %s not registered with the master at %s: %w", c.name, c.cfg.MasterURI, ctx.Err())
	}
}

// Close unregisters the node and stops the actor.
func (c *Conn) Close() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

func (c *Conn) run(ctx context.Context) {
	defer c.teardown()
	down := false // logged the master as unreachable
	client := apimaster.NewClient(c.cfg.masterAddr(), "/"+c.name+"_watch", &http.Client{Timeout: time.Second})
	t := time.NewTicker(c.cfg.retry())
	defer t.Stop()
	for {
		if c.Node() == nil {
			if err := c.checkName(client); err != nil {
				c.fail(err)
				return
			}
			if err := c.connect(); err != nil {
				if !down {
					c.log.Error("ROS master not reachable; retrying", "master", c.cfg.MasterURI, "node", c.name, "every", c.cfg.retry(), "err", err)
					down = true
				}
			} else {
				if down {
					c.log.Info("ROS master reachable again", "master", c.cfg.MasterURI)
				}
				down = false
				c.log.Info("registered with the ROS master", "master", c.cfg.MasterURI, "node", c.name, "host", c.cfg.Host)
				if uri, err := client.LookupNode(c.absName()); err == nil {
					c.uri = uri
				}
			}
		} else {
			// A restarted master has forgotten us: re-register everything.
			// Connections between nodes survive the master; only lookups need it.
			uri, err := client.LookupNode(c.absName())
			switch {
			case err == nil && c.uri != "" && uri != c.uri:
				c.fail(fmt.Errorf("ros: another node registered as %s (at %s; this one is %s): stopping, two nodes of one name would both drive the arm", c.absName(), uri, c.uri))
				return
			case err == nil:
				if down {
					c.log.Info("ROS master reachable again", "master", c.cfg.MasterURI)
				}
				down = false
			case isUnreachable(err):
				if !down {
					c.log.Warn("ROS master down; topics keep flowing between connected nodes, re-registering when it is back", "master", c.cfg.MasterURI, "err", err)
					down = true
				}
			default:
				c.log.Warn("node unknown to the ROS master (restarted?); re-registering", "node", c.absName(), "err", err)
				c.teardown()
				c.uri = ""
				if err := c.connect(); err != nil {
					c.log.Error("re-registration failed; retrying", "err", err)
				} else if uri, err := client.LookupNode(c.absName()); err == nil {
					c.uri = uri
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkName refuses to register when a live node already has this node's
// name: the master would hand the name to the newcomer and both would run
// (goroslib ignores the master's shutdown request).
func (c *Conn) checkName(client *apimaster.Client) error {
	uri, err := client.LookupNode(c.absName())
	if err != nil {
		return nil // unknown name (or no master: connect reports that)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil
	}
	peer := apislave.NewClient(u.Host, c.absName()+"_check", &http.Client{Timeout: time.Second})
	if _, err := peer.GetPid(); err != nil {
		return nil // a stale registration: its node is gone
	}
	return fmt.Errorf("ros: a node named %s is already running (at %s): refusing to start a second one; stop it or choose another name (__name:=)", c.absName(), uri)
}

// absTopic resolves a topic name as goroslib does for this node.
func (c *Conn) absTopic(topic string) string {
	if len(topic) > 0 && topic[0] == '/' {
		return topic
	}
	ns := c.cfg.Namespace
	if env := os.Getenv("ROS_NAMESPACE"); env != "" {
		ns = env
	}
	if ns == "/" {
		return "/" + topic
	}
	return ns + "/" + topic
}

// absName is the node's name as goroslib registers it (ROS_NAMESPACE, when
// set, overrides the configured namespace there too).
func (c *Conn) absName() string {
	ns := c.cfg.Namespace
	if env := os.Getenv("ROS_NAMESPACE"); env != "" {
		ns = env
	}
	if ns == "/" {
		return "/" + c.name
	}
	return ns + "/" + c.name
}

func isUnreachable(err error) bool {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	for _, k := range []string{"connection refused", "no such host", "EOF", "connection reset", "timeout"} {
		if contains(s, k) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func (c *Conn) connect() error {
	n, err := goroslib.NewNode(goroslib.NodeConf{
		Name:            c.name,
		Namespace:       c.cfg.Namespace,
		MasterAddress:   c.cfg.masterAddr(),
		Host:            c.cfg.Host,
		LogDestinations: goroslib.LogDestinationRosout | goroslib.LogDestinationCallback,
		OnLog: func(l goroslib.LogLevel, msg string) {
			if l >= goroslib.LogLevelWarn {
				c.log.Warn("goroslib: " + msg)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("ros: node %s at master %s: %w", c.name, c.cfg.MasterURI, err)
	}
	var subs []*goroslib.Subscriber
	fail := func(err error) error {
		for _, s := range subs {
			s.Close()
		}
		for _, p := range c.pubs {
			if p.p != nil {
				p.p.Close()
				p.p = nil
			}
		}
		n.Close()
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pubs {
		gp, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: n, Topic: p.topic, Msg: p.msg, Latch: p.latch})
		if err != nil {
			return fail(fmt.Errorf("ros: publisher %s: %w", p.topic, err))
		}
		p.p = gp
	}
	for _, s := range c.subs {
		gs, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: n, Topic: s.topic, Callback: s.cb})
		if err != nil {
			return fail(fmt.Errorf("ros: subscriber %s: %w", s.topic, err))
		}
		subs = append(subs, gs)
	}
	for k, v := range c.params {
		// goroslib writes strings into XML-RPC unescaped; escape them here
		// so that a value holding XML (a URDF) arrives intact.
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(v))
		if err := n.ParamSetString(k, esc.String()); err != nil {
			return fail(fmt.Errorf("ros: parameter %s: %w", k, err))
		}
	}
	c.node = n
	c.subsLive = subs
	c.connected.Store(true)
	c.registered.Add(1)
	c.once.Do(func() { close(c.connectedCh) })
	return nil
}

func (c *Conn) teardown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.node == nil {
		return
	}
	for _, s := range c.subsLive {
		s.Close()
	}
	c.subsLive = nil
	for _, p := range c.pubs {
		if p.p != nil {
			p.p.Close()
			p.p = nil
		}
	}
	c.node.Close()
	c.node = nil
	c.connected.Store(false)
}
