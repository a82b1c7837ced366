package registry

// FunctionTags returns a function's tags from the view (aws:ResourceTag/…
// for authorization), nil if it has none or does not exist. The map is
// shared and must not be modified; a tag change replaces it, never
// changes it in place.
func (r *Registry) FunctionTags(name string) map[string]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[name]
	if st == nil || st.rev == 0 {
		return nil
	}
	return st.fn.Tags
}
