// Package cardtest is the harness of the use-case packages' tests: a
// clock the test moves, an Env holding cardcore over a real database
// (internal/testdb) with every use case built once by cardcore.New, card
// fixtures, readers of the outbox and the assertions on errors and events
// that every package makes. The oracle of the transition table is package
// internal/spec. Only tests import it.
package cardtest
