package org.anode.autodiff;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
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

  /** The nodes whose backward functions are running on this thread, innermost first. */
  private static final ThreadLocal<ArrayDeque<Running>> RUNNING =
      ThreadLocal.withInitial(ArrayDeque::new);

  private final MemoryMeter meter;
  private final List<Node> nodes = new ArrayList<>();
  private final List<AutoCloseable> onClose = new ArrayList<>();
  private final Set<Tensor> adopted = Collections.newSetFromMap(new IdentityHashMap<>());
  private Segment latestKept;
  private boolean closed;

  private record Node(
      Variable output, Variable[] inputs, Tensor[] saved, BackwardFunction backward) {}

  /**
   * A node whose backward function runs: what it may give up before it returns ({@link #lastRead}),
   * and what it already gave up.
   */
  private static final class Running {
    final Tape tape;
    final Node node;
    final Tensor gradient;
    final Map<Tensor, Integer> holders;
    final TensorScope sweepScope;
    final Set<Tensor> givenUp = Collections.newSetFromMap(new IdentityHashMap<>());

    Running(
        Tape tape,
        Node node,
        Tensor gradient,
        Map<Tensor, Integer> holders,
        TensorScope sweepScope) {
      this.tape = tape;
      this.node = node;
      this.gradient = gradient;
      this.holders = holders;
      this.sweepScope = sweepScope;
    }

    boolean gaveUp(Tensor t) {
      return givenUp.contains(t);
    }
  }

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
    for (Running r : RUNNING.get()) {
      if (r.gaveUp(t)) {
        return;
      }
      if (t == r.gradient) {
        r.givenUp.add(t);
        letGo(r.holders, t, r.sweepScope);
        return;
      }
      for (Tensor saved : r.node.saved()) {
        if (saved == t) {
          r.givenUp.add(t);
          r.tape.released(t);
          return;
        }
      }
    }
  }

  private void released(Tensor t) {
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
      sweep(List.of(output), List.of(gradOutput));
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
      sweep(outputs, gradients);
    }
  }

  /**
   * The sweep frees what it computed as soon as nobody will read it: each node's backward runs in
   * its own scope, which keeps only the input gradients it returns; a gradient is closed once the
   * node it flows into has used it, once it is added into a leaf (which keeps a copy), and once it
   * is merged with another into their sum. Only tensors the sweep itself created are closed (a
   * backward may return a tensor it did not create, such as its incoming gradient), and a tensor
   * held in two places is closed when the last one lets go. What is left dies with the sweep.
   */
  private void sweep(List<Variable> outputs, List<Tensor> gradOutputs) {
    Map<Variable, Tensor> grads = new IdentityHashMap<>();
    Map<Tensor, Integer> holders = new IdentityHashMap<>();
    List<Variable> borrowers = new ArrayList<>();
    Set<Tensor> seeds = Collections.newSetFromMap(new IdentityHashMap<>());
    try (TensorScope sweepScope = TensorScope.open()) {
      for (int i = 0; i < outputs.size(); i++) {
        Variable output = outputs.get(i);
        Tensor gradOutput = gradOutputs.get(i);
        if (gradOutput == null) {
          continue;
        }
        seeds.add(gradOutput);
        if (output.isLeaf()) {
          if (output.requiresGrad()) {
            output.accumulateGrad(gradOutput);
          }
        } else if (grads.containsKey(output)) {
          Tensor before = grads.get(output);
          Tensor sum = before.backend().add(before, gradOutput);
          grads.put(output, sum);
          hold(holders, sum);
          letGo(holders, before, sweepScope);
        } else {
          grads.put(output, gradOutput);
          hold(holders, gradOutput);
        }
      }
      for (int i = nodes.size() - 1; i >= 0; i--) {
        Node node = nodes.remove(i);
        Tensor g = grads.remove(node.output());
        if (g != null) {
          Variable[] in = node.inputs();
          boolean[] needs = new boolean[in.length];
          for (int k = 0; k < in.length; k++) {
            needs[k] = in[k].requiresGrad();
          }
          Tensor[] gin;
          Running running = new Running(this, node, g, holders, sweepScope);
          RUNNING.get().push(running);
          try (TensorScope nodeScope = TensorScope.open()) {
            gin = node.backward().apply(g, needs);
            for (int k = 0; k < in.length; k++) {
              if (needs[k] && gin[k] != null) {
                nodeScope.keep(gin[k]);
              }
            }
          } finally {
            RUNNING.get().pop();
          }
          for (int k = 0; k < in.length; k++) {
            if (!needs[k] || gin[k] == null) {
              continue;
            }
            if (in[k].isLeaf()) {
              if (!holders.containsKey(gin[k])
                  && sweepScope.owns(gin[k])
                  && !returnedTwice(gin, k)) {
                in[k].accumulateGradOwned(
                    TensorScope.detach(gin[k])); // no copy: nobody else has it
              } else if (seeds.contains(gin[k]) && in[k].accumulateGradBorrowed(gin[k])) {
                borrowers.add(in[k]); // the seed, alive until the sweep ends: no copy yet
              } else {
                in[k].accumulateGrad(gin[k]);
                hold(holders, gin[k]);
                letGo(holders, gin[k], sweepScope);
              }
            } else {
              Tensor before = grads.get(in[k]);
              if (before == null) {
                grads.put(in[k], gin[k]);
                hold(holders, gin[k]);
              } else {
                Tensor sum = before.backend().add(before, gin[k]);
                grads.put(in[k], sum);
                hold(holders, sum);
                hold(holders, gin[k]);
                letGo(holders, gin[k], sweepScope);
                letGo(holders, before, sweepScope);
              }
            }
          }
          if (!running.gaveUp(g)) {
            letGo(holders, g, sweepScope);
          }
          for (Tensor t : node.saved()) {
            if (!running.gaveUp(t)) {
              released(t);
            }
          }
        } else {
          for (Tensor t : node.saved()) {
            released(t);
          }
        }
      }
    } finally {
      for (Variable v : borrowers) {
        v.ownBorrowedGrad();
      }
    }
  }

  /** Whether {@code gin[k]} is also returned for a later input (as by {@code x + x}). */
  private static boolean returnedTwice(Tensor[] gin, int k) {
    for (int i = k + 1; i < gin.length; i++) {
      if (gin[i] == gin[k]) {
        return true;
      }
    }
    return false;
  }

  private static void hold(Map<Tensor, Integer> holders, Tensor t) {
    holders.merge(t, 1, Integer::sum);
  }

  /** One holder of {@code t} is done with it; the last closes it if the sweep created it. */
  private static void letGo(Map<Tensor, Integer> holders, Tensor t, TensorScope sweepScope) {
    Integer n = holders.merge(t, -1, Integer::sum);
    if (n != null && n <= 0) {
      holders.remove(t);
      if (sweepScope.owns(t)) {
        t.close();
      }
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
