package org.anode.autodiff;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * One backward sweep through a {@link Tape}, newest operation first, and who frees what during it:
 * each node's backward runs in its own scope and keeps only its input gradients; a gradient is
 * reference-counted among the places that hold it and freed by the last; a leaf takes a gradient
 * nobody else holds without a copy and references the caller's seed instead of copying it; a
 * running backward function may give up its incoming gradient or a saved tensor at its last read
 * ({@link Tape#lastRead}).
 */
final class Sweep {
  /** The nodes whose backward functions are running on this thread, innermost first. */
  private static final ThreadLocal<ArrayDeque<Running>> RUNNING =
      ThreadLocal.withInitial(ArrayDeque::new);

  private final Tape tape;

  Sweep(Tape tape) {
    this.tape = tape;
  }

  /**
   * A node whose backward function runs: what it may give up before it returns ({@link #lastRead}),
   * and what it already gave up.
   */
  private static final class Running {
    final Tape tape;
    final Tape.Node node;
    final Tensor gradient;
    final Map<Tensor, Integer> holders;
    final TensorScope sweepScope;
    final Set<Tensor> givenUp = Collections.newSetFromMap(new IdentityHashMap<>());

    Running(
        Tape tape,
        Tape.Node node,
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

  /** {@link Tape#lastRead}. */
  static void lastRead(Tensor t) {
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

  /**
   * The sweep frees what it computed as soon as nobody will read it: each node's backward runs in
   * its own scope, which keeps only the input gradients it returns; a gradient is closed once the
   * node it flows into has used it, once it is added into a leaf (which keeps a copy), and once it
   * is merged with another into their sum. Only tensors the sweep itself created are closed (a
   * backward may return a tensor it did not create, such as its incoming gradient), and a tensor
   * held in two places is closed when the last one lets go. What is left dies with the sweep.
   */
  void run(List<Variable> outputs, List<Tensor> gradOutputs) {
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
      List<Tape.Node> nodes = tape.nodes;
      for (int i = nodes.size() - 1; i >= 0; i--) {
        Tape.Node node = nodes.remove(i);
        Tensor g = grads.remove(node.output());
        if (g != null) {
          Variable[] in = node.inputs();
          boolean[] needs = new boolean[in.length];
          for (int k = 0; k < in.length; k++) {
            needs[k] = in[k].requiresGrad();
          }
          Tensor[] gin;
          Running running = new Running(tape, node, g, holders, sweepScope);
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
              tape.released(t);
            }
          }
        } else {
          for (Tensor t : node.saved()) {
            tape.released(t);
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
}
