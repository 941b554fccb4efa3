/**
 * anode's own reverse-mode automatic differentiation: {@link org.anode.autodiff.Variable}, the
 * operations of {@link org.anode.autodiff.Ops}, the {@link org.anode.autodiff.Tape} that records
 * them and sweeps them once, {@link org.anode.autodiff.Segment}s kept for a later sweep, and the
 * saved-bytes {@link org.anode.autodiff.MemoryMeter}.
 *
 * <h2>Thread-local contexts</h2>
 *
 * A training step is driven by five per-thread stacks or values, each opened and closed with
 * try-with-resources in strict nesting; a step must run on one thread, and none of them is seen by
 * another thread (a data loader's background thread makes arrays, not tensors):
 *
 * <ul>
 *   <li><b>Scope stack</b> ({@link org.anode.api.TensorScope}, in {@code api}): a new tensor
 *       belongs to the innermost open scope and dies when it closes, unless it is {@code keep}-ed
 *       outward, {@code detach}-ed to a caller or handed to a tape. Solver steps, each node's
 *       backward and each evaluation of the adjoint's field open their own scopes, so that
 *       intermediates die at their last use.
 *   <li><b>Tape stack</b> ({@link org.anode.autodiff.Tape#record()}, {@link
 *       org.anode.autodiff.Tape#pause()}): operations record on the innermost tape; nested tapes
 *       share the outer one's meter; a pause stops recording (forward passes a method will
 *       recompute). A tape also owns what solver steps and {@code Sequential} layers saved and
 *       frees each tensor after the last operation that reads it is swept.
 *   <li><b>Recomputation depth</b> ({@link org.anode.nn.Recomputation}): while positive, a forward
 *       pass repeats one that already ran — batch norm uses the batch statistics without moving its
 *       running estimates again, and ODE blocks do not count a new forward pass.
 *   <li><b>Random key</b> ({@link org.anode.nn.RandomKey}): set by an ODE block around every
 *       evaluation of its field to (pass, step, stage), so that a recomputation replays the same
 *       random draws (dropout masks).
 *   <li><b>Running backward functions</b> (kept by the sweep of a {@link org.anode.autodiff.Tape}):
 *       the nodes whose backward functions are executing, innermost first, so that {@link
 *       org.anode.autodiff.Tape#lastRead} can free a node's incoming gradient or saved tensor at
 *       its last read instead of after the function returns.
 * </ul>
 *
 * Nothing else is per thread: ANODE's most recent kept block is a property of the tape that
 * recorded it ({@link org.anode.autodiff.Tape#keepLatest}), and gradient methods receive everything
 * else in {@code org.anode.ode.BlockContext}.
 */
package org.anode.autodiff;
