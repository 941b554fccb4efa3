package org.anode.autodiff;

import java.util.List;
import java.util.function.UnaryOperator;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * A piece of computation recorded on a tape of its own and kept, unswept, for one later backward
 * sweep: the tensors it saved stay alive (and counted by the enclosing tape's meter) until {@link
 * #backward} has used them or {@link #close} discards them, whichever comes first.
 *
 * <p>This is how a checkpointing method skips a recomputation whose memory it can afford: ANODE
 * keeps the most recent ODE block recorded, because its steps would otherwise be freed at the end
 * of the forward pass only to be recomputed at once by the first step of the backward pass.
 *
 * <pre>{@code
 * Segment s = Segment.record(z0, true, z -> block.advance(z, grid, 0, n));
 * Tensor zT = s.output();                  // belongs to the caller's scope
 * ...
 * Tensor dz0 = s.backward(dzT);            // parameters' gradients accumulate; s is then closed
 * }</pre>
 */
public final class Segment implements AutoCloseable {
  private final Tape tape;
  private final Variable start;
  private final Variable end;
  private final List<Tensor> owned;
  private MemoryMeter.Limit limit;
  private boolean closed;

  private Segment(Tape tape, Variable start, Variable end, List<Tensor> owned) {
    this.tape = tape;
    this.start = start;
    this.end = end;
    this.owned = owned;
  }

  /**
   * Runs {@code body} from {@code input} on a new tape nested in the innermost open one, recording
   * or paused (sharing its meter) — so a backward function can record a recomputation. The output
   * tensor belongs to the caller's scope; every other tensor made by the body belongs to the
   * segment. With {@code inputGrad}, {@link #backward} returns the input's gradient.
   */
  public static Segment record(Tensor input, boolean inputGrad, UnaryOperator<Variable> body) {
    TensorScope scope = TensorScope.open();
    Tape tape = Tape.record();
    try {
      Variable start = inputGrad ? Variable.leaf(input) : Variable.constant(input);
      Variable end = body.apply(start);
      tape.suspend();
      scope.keep(end.value());
      List<Tensor> owned = scope.detachAll();
      scope.close();
      return new Segment(tape, start, end, owned);
    } catch (RuntimeException | Error e) {
      tape.close();
      scope.close();
      throw e;
    }
  }

  /**
   * Closes this segment just before anything else would take the meter past the highest of its
   * current bytes and its peak so far. Kept that long, the segment never raises the peak above what
   * recomputing it in the backward pass gives: every level the meter has reached in this forward
   * pass is reached again there (a block's backward holds what was alive at the end of its forward:
   * everything saved before it and its own steps), and so is the level now.
   */
  public void closeBeforeNewPeak() {
    if (closed) {
      return;
    }
    MemoryMeter meter = tape.meter();
    if (limit != null) {
      meter.unwatch(limit);
    }
    limit = new MemoryMeter.Limit(Math.max(meter.currentBytes(), meter.peakBytes()), this::close);
    meter.watch(limit);
  }

  /** The value the body returned. */
  public Tensor output() {
    return end.value();
  }

  /**
   * Frees the output now, for a caller that records a segment only to sweep it (a recomputation)
   * and will not read the value: unless an operation of the segment saved it, in which case the
   * segment frees it with the rest of what it owns.
   */
  public void releaseOutput() {
    Tensor out = end.value();
    if (out == start.value() || out.isClosed()) {
      return;
    }
    if (tape.meter().holds(out)) {
      owned.add(TensorScope.detach(out));
    } else {
      out.close();
    }
  }

  /** True until the segment is swept or discarded. */
  public boolean isOpen() {
    return !closed;
  }

  /**
   * Sweeps the segment once from {@code gradOutput}, accumulating the gradients of the parameters
   * it used, then frees it. Returns the input's gradient (in the caller's scope), or null when the
   * segment was recorded without one.
   */
  public Tensor backward(Tensor gradOutput) {
    if (closed) {
      throw new IllegalStateException("Segment.backward: the segment was already swept or closed");
    }
    Tensor g;
    try (TensorScope scope = TensorScope.open()) {
      tape.backward(end, gradOutput);
      g = start.requiresGrad() ? start.takeGrad() : null;
    } finally {
      close();
    }
    // The input's gradient moves to the caller's scope without a copy (a copy would hold it twice).
    return g == null ? null : TensorScope.attach(g);
  }

  /** Releases what the segment saved; a later {@link #backward} is refused. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (limit != null) {
      tape.meter().unwatch(limit);
    }
    tape.close();
    for (Tensor t : owned) {
      t.close();
    }
    owned.clear();
  }
}
