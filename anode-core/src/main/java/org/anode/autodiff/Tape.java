package org.anode.autodiff;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * Reverse-mode automatic differentiation: records the operations of {@link Ops} while it is the
 * current tape of this thread, then {@link #backward} visits them newest first in ONE sweep, adding
 * each leaf's gradient into {@link Variable#grad()}.
 *
 * <p>The tape is ours, not a tensor library's, because ANODE must decide exactly which activations
 * stay alive and which are recomputed: every tensor an operation saves for its backward is counted
 * by the tape's {@link MemoryMeter} until the sweep has used it.
 *
 * <pre>{@code
 * try (Tape tape = Tape.record()) {
 *   Variable loss = model.forward(x);
 *   tape.backward(loss);               // parameters' grad() now hold dLoss/dθ
 * }
 * }</pre>
 *
 * <p>Tapes nest: a tape opened inside another shares its meter (so one peak covers the whole
 * network) and records only what runs while it is innermost. {@link #pause()} stops all recording,
 * as a forward pass whose gradient a method will recompute needs.
 */
public final class Tape implements AutoCloseable {
  private static final Tape PAUSED = new Tape(new MemoryMeter());
  private static final ThreadLocal<ArrayDeque<Tape>> STACK =
      ThreadLocal.withInitial(ArrayDeque::new);

  private final MemoryMeter meter;
  final List<Node> nodes = new ArrayList<>();
  private final List<AutoCloseable> onClose = new ArrayList<>();
  private final Set<Tensor> adopted = Collections.newSetFromMap(new IdentityHashMap<>());
  private Segment latestKept;
  private boolean closed;

  record Node(Variable output, Variable[] inputs, Tensor[] saved, BackwardFunction backward) {}

  private Tape(MemoryMeter meter) {
    this.meter = meter;
  }

  /** Starts recording; the meter is the enclosing tape's, or a new one. */
  public static Tape record() {
    Tape outer = innermost();
    return record(outer != null ? outer.meter : new MemoryMeter());
  }

  /** Starts recording and counts saved bytes on {@code meter}. */
  public static Tape record(MemoryMeter meter) {
    Tape tape = new Tape(meter);
    STACK.get().push(tape);
    return tape;
  }

  /** The recording tape of this thread, or null when none records (none open, or paused). */
  public static Tape current() {
    Tape top = STACK.get().peek();
    return top == PAUSED ? null : top;
  }

  /** The innermost real tape even while paused (for its meter), or null. */
  private static Tape innermost() {
    for (Tape t : STACK.get()) {
      if (t != PAUSED) {
        return t;
      }
    }
    return null;
  }

  /** The meter of the innermost tape, even while paused, or null when no tape is open. */
  public static MemoryMeter currentMeter() {
    Tape t = innermost();
    return t == null ? null : t.meter;
  }

  /** Stops recording until the returned handle is closed. */
  public static Pause pause() {
    STACK.get().push(PAUSED);
    return new Pause();
  }

  /** Resumes recording when closed. */
  public static final class Pause implements AutoCloseable {
    private boolean closed;

    private Pause() {}

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        ArrayDeque<Tape> stack = STACK.get();
        if (stack.peek() != PAUSED) {
          throw new IllegalStateException("Tape.pause(): pauses and tapes closed out of order");
        }
        stack.pop();
      }
    }
  }

  public MemoryMeter meter() {
    return meter;
  }

  /** Number of operations recorded and not yet swept. */
  public int size() {
    return nodes.size();
  }

  /**
   * An operation this tape recorded: its inputs (parameters among them) and its output, for tools
   * that report what a forward pass did, such as the shapes each layer saw.
   */
  public record Operation(List<Variable> inputs, Variable output) {}

  /** The operations recorded so far, in order (a copy; swept ones are gone). */
  public List<Operation> operations() {
    List<Operation> out = new ArrayList<>(nodes.size());
    for (Node n : nodes) {
      out.add(new Operation(List.of(n.inputs()), n.output()));
    }
    return out;
  }

  /**
   * Records one operation. {@code saved} lists every tensor that {@code backward} will read; they
   * are counted by the meter (except parameter values) until the sweep has used them.
   */
  void add(Variable output, Variable[] inputs, Tensor[] saved, BackwardFunction backward) {
    if (closed) {
      throw new IllegalStateException("Tape: recording on a closed tape");
    }
    Set<Tensor> parameters = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Variable v : inputs) {
      if (v.isParameter()) {
        parameters.add(v.value());
      }
    }
    List<Tensor> counted = new ArrayList<>(saved.length);
    for (Tensor t : saved) {
      if (!parameters.contains(t)) {
        meter.retain(t);
        counted.add(t);
      }
    }
    nodes.add(new Node(output, inputs, counted.toArray(new Tensor[0]), backward));
  }

  /**
   * Runs {@code body} in a scope of its own and returns its result in the caller's scope; every
   * other tensor it made dies with the scope, except what its operations saved for backward, which
   * the current tape (if one records) takes over and frees right after the last operation that
   * reads it is swept. For pieces whose intermediates no caller can see: a solver step, a layer.
   */
  public static Variable inOwnScope(Supplier<Variable> body) {
    return inOwnScopeAll(() -> List.of(body.get())).get(0);
  }

  /** As {@link #inOwnScope} for a piece with several results (a solver's carried state). */
  public static List<Variable> inOwnScopeAll(Supplier<List<Variable>> body) {
    Tape tape = current();
    int mark = tape == null ? 0 : tape.nodes.size();
    try (TensorScope scope = TensorScope.open()) {
      List<Variable> out = body.get();
      Set<Tensor> results = Collections.newSetFromMap(new IdentityHashMap<>());
      for (Variable v : out) {
        results.add(v.value());
      }
      if (tape != null) {
        tape.adoptSaved(scope, mark, results);
      }
      for (Tensor t : results) {
        if (scope.owns(t)) {
          scope.keep(t);
        }
      }
      return out;
    }
  }

  /**
   * Takes over what the operations recorded since {@code fromNode} saved and {@code scope} owns.
   */
  private void adoptSaved(TensorScope scope, int fromNode, Set<Tensor> except) {
    for (int i = fromNode; i < nodes.size(); i++) {
      for (Tensor t : nodes.get(i).saved()) {
        if (!except.contains(t) && scope.owns(t)) {
          adopted.add(TensorScope.detach(t));
        }
      }
    }
  }

  /**
   * Frees {@code t}, an intermediate that no caller can see, at its last use: now if no recorded
   * operation saved it (or no tape records), else through the current tape once the last operation
   * that saved it has been swept.
   */
  public static void releaseIntermediate(Tensor t) {
    Tape tape = current();
    if (tape != null && tape.meter.holds(t)) {
      tape.adopted.add(TensorScope.detach(t));
    } else {
      t.close();
    }
  }

  /**
   * Says that the running backward function has read {@code t} for the last time, where {@code t}
   * is the gradient flowing into its node or a tensor its node saved: the sweep lets go of it now
   * instead of after the function returns, so that it is freed at once if nobody else holds it. A
   * gradient method whose backward runs long after its first read (the adjoint integrating back
   * over N_t steps, revolve reversing them) needs this to keep {@code dL/dz(T)} and {@code z(T)}
   * from living through its whole backward. Anything else is ignored.
   */
  public static void lastRead(Tensor t) {
    Sweep.lastRead(t);
  }

  /** A saved tensor is no longer needed by one operation: freed when nobody holds it. */
  void released(Tensor t) {
    meter.release(t);
    if (!meter.holds(t) && adopted.remove(t)) {
      t.close();
    }
  }

  /** Backward from a scalar: the seed gradient is 1. */
  public void backward(Variable output) {
    if (output.shape().numel() != 1) {
      throw new IllegalArgumentException(
          "backward: output " + output.shape() + " is not a scalar; pass its gradient explicitly");
    }
    Tensor one = output.backend().full(output.shape(), 1.0, output.dtype());
    backward(output, one);
  }

  /**
   * One sweep from {@code output}, whose gradient is {@code gradOutput}, through every recorded
   * operation, newest first. Leaves that require a gradient accumulate it; the tape is empty
   * afterwards and its saved tensors leave the meter as soon as their operation is swept.
   */
  public void backward(Variable output, Tensor gradOutput) {
    if (!output.shape().equals(gradOutput.shape()) || output.dtype() != gradOutput.dtype()) {
      throw new IllegalArgumentException(
          "backward: gradient "
              + gradOutput.shape()
              + " "
              + gradOutput.dtype()
              + " does not match output "
              + output.shape()
              + " "
              + output.dtype());
    }
    // Nothing a backward function computes is recorded here; a function that needs a tape of its
    // own (a checkpointed block's recomputation) opens an inner one, which shares this meter.
    try (Pause off = pause()) {
      new Sweep(this).run(List.of(output), List.of(gradOutput));
    }
  }

  /**
   * One sweep from several outputs at once, {@code gradients.get(i)} being the gradient of {@code
   * outputs.get(i)} (null for none): a step of a solver that carries several tensors, swept from
   * the gradients of all of them.
   */
  public void backward(List<Variable> outputs, List<Tensor> gradients) {
    if (outputs.size() != gradients.size()) {
      throw new IllegalArgumentException(
          "backward: " + outputs.size() + " outputs and " + gradients.size() + " gradients");
    }
    for (int i = 0; i < outputs.size(); i++) {
      Tensor g = gradients.get(i);
      Variable o = outputs.get(i);
      if (g != null && (!o.shape().equals(g.shape()) || o.dtype() != g.dtype())) {
        throw new IllegalArgumentException(
            "backward: gradient "
                + g.shape()
                + " "
                + g.dtype()
                + " does not match output "
                + i
                + ", "
                + o.shape()
                + " "
                + o.dtype());
      }
    }
    try (Pause off = pause()) {
      new Sweep(this).run(outputs, gradients);
    }
  }

  /**
   * Keeps {@code segment} as this tape's latest kept segment and closes the one kept before (null
   * only closes it): for recordings kept to be swept directly, which are worth their memory only
   * while they are the newest (ANODE's most recent block). The tape closes the latest when it
   * closes.
   */
  public void keepLatest(Segment segment) {
    if (latestKept != null && latestKept != segment) {
      latestKept.close();
    }
    latestKept = segment;
    if (segment != null) {
      closeWithTape(segment);
    }
  }

  /**
   * Closes {@code resource} when this tape closes, unless it was closed before: what a backward
   * function of this tape holds beyond saved tensors (a kept {@link Segment}).
   */
  public void closeWithTape(AutoCloseable resource) {
    onClose.add(resource);
  }

  /**
   * Takes this tape off the thread's stack without discarding what it recorded: it records no more
   * and can still be swept ({@link Segment}). It must be the innermost tape.
   */
  void suspend() {
    ArrayDeque<Tape> stack = STACK.get();
    if (stack.peek() != this) {
      throw new IllegalStateException("Tape.suspend(): not the innermost tape");
    }
    stack.pop();
  }

  /** Stops recording; operations not swept release their saved tensors from the meter. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException failure = null;
    for (int i = onClose.size() - 1; i >= 0; i--) {
      try {
        onClose.get(i).close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new IllegalStateException("Tape.close(): closing a resource failed", e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    onClose.clear();
    for (Node node : nodes) {
      for (Tensor t : node.saved()) {
        meter.release(t);
      }
    }
    nodes.clear();
    for (Tensor t : adopted) {
      if (!meter.holds(t)) { // one an operation of another tape still reads is left open
        t.close();
      }
    }
    adopted.clear();
    ArrayDeque<Tape> stack = STACK.get();
    if (stack.contains(this)) {
      // Closing an outer tape also ends inner tapes and pauses left open (exception paths).
      while (stack.pop() != this) {}
    }
    if (failure != null) {
      throw failure;
    }
  }
}
