package netns

import (
	"log/slog"
	"path/filepath"

	"github.com/kumo-run/kumo/internal/owners"
)

// ownerDir holds the records of which running server owns which network
// (package owners). A server killed without its Close leaves its network
// behind; the next server to start with the same ID removes it (Start's
// Cleanup), and so does any server that starts and finds a record whose
// process is gone, whatever its ID. Without that, servers of throwaway
// data dirs (tests, scratch runs) killed with SIGKILL would leave bridges
// until every range is taken.
var ownerDir = filepath.Join(owners.Dir, "net")

func claim(id string) error { return owners.Claim(ownerDir, id) }
func release(id string)     { owners.Release(ownerDir, id) }

// reapOrphans removes the networks of recorded owners that are gone.
func reapOrphans(self string, log *slog.Logger) {
	for _, id := range owners.Orphans(ownerDir) {
		if id == self || checkID(id) != nil {
			// A dead server's record of this server's own ID (whose
			// leftovers Start has just removed), or a record that names
			// no network: nothing to remove, the record goes.
			if err := owners.Forget(ownerDir, id); err != nil {
				log.Warn("removing a network owner record failed", "id", id, "err", err)
			}
			continue
		}
		if err := Cleanup(id, log); err != nil {
			log.Warn("removing the network of a server that is gone failed", "id", id, "err", err)
			owners.Return(ownerDir, id)
			continue
		}
		if err := owners.Forget(ownerDir, id); err != nil {
			log.Warn("removing a network owner record failed", "id", id, "err", err)
		}
		log.Info("removed the network of a server that is gone", "id", id)
	}
}
