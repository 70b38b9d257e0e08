package card

// Type is a card type; only the package's variables exist.
type Type struct{ v uint8 }

// Card types.
var (
	Plastic   = Type{1}
	Virtual   = Type{2}
	Temporary = Type{3}
	// Deprecated: Recurring is accepted for compatibility with Pismo clients;
	// new integrations should issue Virtual cards.
	Recurring = Type{4}
)

var typeNames = [...]string{"", "PLASTIC", "VIRTUAL", "TEMPORARY", "RECURRING"}

// Types returns every card type.
func Types() []Type { return []Type{Plastic, Virtual, Temporary, Recurring} }

// ParseType returns the type named s.
func ParseType(s string) (Type, error) {
	for i := 1; i < len(typeNames); i++ {
		if typeNames[i] == s {
			return Type{uint8(i)}, nil
		}
	}
	return Type{}, Invalid("type", "must be PLASTIC, VIRTUAL, TEMPORARY or RECURRING")
}

func (t Type) String() string { return name(typeNames[:], t.v) }

// IsZero reports whether t is the zero Type.
func (t Type) IsZero() bool { return t.v == 0 }

// MarshalText renders the type name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name.
func (t *Type) UnmarshalText(b []byte) error { return unmarshal(b, t, ParseType) }

// Mode is how a card draws funds; only the package's variables exist.
type Mode struct{ v uint8 }

// Card modes.
var (
	Credit   = Mode{1}
	Debit    = Mode{2}
	Combo    = Mode{3}
	Multiple = Mode{4}
)

var modeNames = [...]string{"", "CREDIT", "DEBIT", "COMBO", "MULTIPLE"}

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	for i := 1; i < len(modeNames); i++ {
		if modeNames[i] == s {
			return Mode{uint8(i)}, nil
		}
	}
	return Mode{}, Invalid("mode", "must be CREDIT, DEBIT, COMBO or MULTIPLE")
}

func (m Mode) String() string { return name(modeNames[:], m.v) }

// IsZero reports whether m is the zero Mode.
func (m Mode) IsZero() bool { return m.v == 0 }

// MarshalText renders the mode name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a mode name.
func (m *Mode) UnmarshalText(b []byte) error { return unmarshal(b, m, ParseMode) }

// Brand is a card network; only the package's variables exist.
type Brand struct{ v uint8 }

// Card brands.
var (
	Visa       = Brand{1}
	Mastercard = Brand{2}
	Elo        = Brand{3}
	RuPay      = Brand{4}
	Discover   = Brand{5}
	Amex       = Brand{6}
	Private    = Brand{7}
)

var brandNames = [...]string{"", "VISA", "MASTERCARD", "ELO", "RUPAY", "DISCOVER", "AMEX", "PRIVATE"}

// ParseBrand returns the brand named s.
func ParseBrand(s string) (Brand, error) {
	for i := 1; i < len(brandNames); i++ {
		if brandNames[i] == s {
			return Brand{uint8(i)}, nil
		}
	}
	return Brand{}, Invalid("brand", "must be VISA, MASTERCARD, ELO, RUPAY, DISCOVER, AMEX or PRIVATE")
}

func (b Brand) String() string { return name(brandNames[:], b.v) }

// IsZero reports whether b is the zero Brand.
func (b Brand) IsZero() bool { return b.v == 0 }

// MarshalText renders the brand name.
func (b Brand) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a brand name.
func (b *Brand) UnmarshalText(t []byte) error { return unmarshal(t, b, ParseBrand) }

func name(names []string, v uint8) string {
	if int(v) >= len(names) {
		return ""
	}
	return names[v]
}

func unmarshal[T any](b []byte, dst *T, parse func(string) (T, error)) error {
	if len(b) == 0 {
		var zero T
		*dst = zero
		return nil
	}
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
