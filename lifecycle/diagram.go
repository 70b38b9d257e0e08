package lifecycle

import (
	"github.com/cardcore/cardcore/card"
	"github.com/looplab/fsm"
)

// Mermaid renders the transition table as a Mermaid state diagram, drawn by
// looplab/fsm from the same definition every status change consults. The
// diagram starts in CREATED, the first initial status.
func Mermaid() string {
	f := fsm.NewFSM(card.Created.String(), definition, nil)
	out, err := fsm.VisualizeForMermaidWithGraphType(f, fsm.StateDiagram)
	if err != nil {
		// StateDiagram is a constant the library knows; an error here is a
		// broken build of looplab/fsm, not a runtime condition.
		panic("lifecycle: mermaid: " + err.Error())
	}
	return out
}
