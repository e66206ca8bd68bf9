package counter

// How many days of daily figures (hits, visitors, crawler hits) a counter keeps: HISTORY_DAYS,
// which the store and the configuration both read from here, as the import's bound does.
const (
	// DefaultHistoryDays is the history kept unless HISTORY_DAYS says otherwise: a year and a
	// month, so that a year ago today is still there.
	DefaultHistoryDays = 400
	// MaxHistoryDays is the most HISTORY_DAYS may be: ten years.
	MaxHistoryDays = 3660
)
