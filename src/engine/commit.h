// The commit step: after every user of the plan was processed (their writes acknowledged),
// save the checkpoint (the sidecar with the cursor, the batch id, the pass's progress and the
// grace window's versions; then the watermark file) and tell the listener the batch committed.
// Also the sidecar-only progress save of a running pass between chunks.
#pragma once

#include "checkpoint/checkpoint.h"
#include "core/object_id.h"
#include "core/status.h"
#include "engine/batch_report.h"
#include "engine/listener.h"
#include "engine/plan.h"

namespace ha {

// Saves the pass's progress after the chunk that ended with `last_user` (sidecar only: the
// cursor and the watermark do not move), so a restart neither skips nor repeats finished
// chunks. Saves nothing when the chunk finished the slice (the commit saves it) or held no user
// of the slice; `*slice_done` counts the slice's users done so far and is updated. Returns the
// checkpoint's error.
Status SavePassProgress(const BatchPlan& plan, const ObjectId& last_user,
                        CheckpointStore& checkpoint, size_t* slice_done, BatchReport* report);

// Commits the planned batch: CheckpointStore::Commit with the next cursor, the next batch id,
// the pass's progress (finished when the slice finished it: then today is the last day
// recomputed) and the grace window's versions; then listener->OnBatchCommitted (listener may be
// null) and memory->seen_versions takes the plan's window. Fills report->watermark_to (an
// operator edit made while the batch ran wins: the file as it is), more_pending and the commit
// phase. Failpoint `before-commit` first. On failure returns the checkpoint's error: nothing
// was told to the listener, and the next Load resumes from before this batch.
Status CommitBatch(BatchPlan& plan, CheckpointStore& checkpoint, ChangeListener* listener,
                   EngineMemory* memory, BatchReport* report);

}  // namespace ha
