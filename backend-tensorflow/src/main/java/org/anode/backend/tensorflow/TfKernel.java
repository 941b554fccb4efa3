package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.family.TType;

/**
 * One anode kernel for one signature (operation, attributes, input dtypes and shapes), compiled
 * once into a TensorFlow graph with a session of its own and run many times. Inputs are fed, the
 * outputs are fetched, and the fetched tensors belong to the caller: graph mode gives exact
 * ownership of every result, which eager mode does not (see {@link TfTensor}).
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfKernel implements AutoCloseable {
  private final Graph graph;
  private final Session session;
  private final List<Operand> inputs;
  private final List<Operand<?>> outputs;

  /** Builds the graph of a kernel from placeholders for its inputs, each in the api's layout. */
  @SuppressWarnings("rawtypes")
  interface Builder {
    Operand<?> build(Ops tf, List<Operand> inputs);
  }

  /** Builds a graph with several outputs from inputs in the api's layout. */
  @SuppressWarnings("rawtypes")
  interface MultiBuilder {
    List<Operand<?>> build(Ops tf, List<Operand> inputs);
  }

  /** Builds a graph that chooses the layout it reads each input in (see {@link TfInputs}). */
  interface LayoutBuilder {
    List<Operand<?>> build(Ops tf, TfInputs inputs);
  }

  /**
   * Type and stored shape of one placeholder, and whether that storage is channels-last (an NCHW
   * image of the api kept as NHWC; its stored shape is then NHWC).
   */
  record Input(
      Class<? extends TType> type, org.tensorflow.ndarray.Shape shape, boolean channelsLast) {}

  TfKernel(List<Input> signature, LayoutBuilder builder, ConfigProto config) {
    this.graph = new Graph();
    try {
      Ops tf = Ops.create(graph);
      this.inputs = new ArrayList<>();
      for (Input in : signature) {
        inputs.add(tf.placeholder((Class) in.type(), Placeholder.shape(in.shape())));
      }
      this.outputs = builder.build(tf, new TfInputs(tf, inputs, signature));
      this.session = new Session(graph, config);
    } catch (RuntimeException | Error e) {
      graph.close();
      throw e;
    }
  }

  /** Runs the kernel; the caller owns (and must close) the returned tensors. */
  synchronized List<TType> run(List<Tensor> feeds) {
    Session.Runner runner = session.runner();
    for (int i = 0; i < feeds.size(); i++) {
      runner.feed(inputs.get(i), feeds.get(i));
    }
    for (Operand<?> o : outputs) {
      runner.fetch(o);
    }
    // Not closing the Result: it would close the fetched tensors, which we hand on.
    Result result = runner.run();
    List<TType> out = new ArrayList<>(outputs.size());
    for (int i = 0; i < outputs.size(); i++) {
      out.add((TType) result.get(i));
    }
    return out;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
