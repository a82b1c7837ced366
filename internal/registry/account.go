package registry

// AccountSettings is the GetAccountSettings response.
type AccountSettings struct {
	AccountLimit AccountLimit `json:"AccountLimit"`
	AccountUsage AccountUsage `json:"AccountUsage"`
}

// AccountLimit is the account's quotas; sizes are in bytes.
type AccountLimit struct {
	TotalCodeSize                  int64 `json:"TotalCodeSize"`
	CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
	CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
	ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
	UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
}

// AccountUsage is what the account uses of them.
type AccountUsage struct {
	TotalCodeSize int64 `json:"TotalCodeSize"`
	FunctionCount int64 `json:"FunctionCount"`
}

// AccountSettings returns the account's limits and usage, from the view.
func (r *Registry) AccountSettings() AccountSettings {
	limit := r.cfg.AccountConcurrency
	var functions int64
	reserved := 0
	r.mu.RLock()
	for _, st := range r.fns {
		if st.rev == 0 {
			continue
		}
		functions++
		if st.fn.ReservedConcurrency != nil {
			reserved += *st.fn.ReservedConcurrency
		}
	}
	r.mu.RUnlock()
	return AccountSettings{
		AccountLimit: AccountLimit{
			TotalCodeSize:                  MaxCodeStorage,
			CodeSizeUnzipped:               MaxUnzipped,
			CodeSizeZipped:                 MaxZipped,
			ConcurrentExecutions:           limit,
			UnreservedConcurrentExecutions: limit - reserved,
		},
		AccountUsage: AccountUsage{TotalCodeSize: r.totalCodeSize(), FunctionCount: functions},
	}
}
