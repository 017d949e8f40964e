package notify

// RunDueForTest decides the failed sign-ins whose grace has ended by the
// notifier's clock, as the scheduler does when its timer fires.
func (n *Notifier) RunDueForTest() { n.runDue(false) }

// PendingForTest returns how many failed answers wait out their grace.
func (n *Notifier) PendingForTest() int {
	n.pmu.Lock()
	defer n.pmu.Unlock()
	answers := 0
	for _, b := range n.pending {
		answers += b.count
	}
	return answers
}

// Store keys, for tests that read the counters.
const (
	GateKeyForTest = gateKey
	OKKeyForTest   = okKey
)
