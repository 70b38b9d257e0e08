// Package spec is the tests' oracle: SPEC sections 2, 3 and 12 (the transition
// table, its status groups, what a reissue does to the old card, and the
// PIN tries and information updates of section 12) copied
// by hand from the specification, with the status names as it spells them.
// The tests of every use-case package compare the library against it, so it
// must never be derived from package lifecycle: it imports only package
// card, for the names of the operations and statuses. Only tests import it.
package spec
