package sandbox

// FailDataWrites makes every write of s's data file fail with err until it
// is called again with nil. s must have a data file.
func FailDataWrites(s *Server, err error) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if err == nil {
		s.store.failWrite = nil
		return
	}
	s.store.failWrite = func() error { return err }
}
