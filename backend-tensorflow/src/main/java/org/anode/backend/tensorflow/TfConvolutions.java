package org.anode.backend.tensorflow;

import static org.anode.backend.tensorflow.TfBackend.transpose;
import static org.anode.backend.tensorflow.TfConvolutionGraphs.NCHW_TO_NHWC;
import static org.anode.backend.tensorflow.TfConvolutionGraphs.NHWC_TO_NCHW;
import static org.anode.backend.tensorflow.TfConvolutionGraphs.OIHW_TO_HWIO;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;
import org.tensorflow.op.nn.Conv2d;

/**
 * The TensorFlow backend's convolution kernels: the forward convolution and its gradients, each a
 * compiled graph from {@link TfConvolutionGraphs} run through the {@link TfKernelCache}. Every
 * kernel also takes a scalar zero (what a dilated kernel is stuffed with) so that the graph is
 * shared by every value of the dtype. Inputs are read by named position.
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfConvolutions {
  // conv2d's inputs
  private static final int X = 0;
  private static final int W = 1;
  private static final int ZERO = 2;
  private static final int BIAS = 3;
  // the backward kernels' inputs
  private static final int GRAD_OUT = 0;
  private static final int OPERAND = 1; // the weight for ∂L/∂x, the input for ∂L/∂w
  private static final int BACKWARD_ZERO = 2;
  // the two-gradient kernel's inputs
  private static final int BOTH_X = 0;
  private static final int BOTH_W = 1;
  private static final int BOTH_GRAD_OUT = 2;
  private static final int BOTH_ZERO = 3;

  private final TfKernelCache kernels;

  TfConvolutions(TfKernelCache kernels) {
    this.kernels = kernels;
  }

  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    boolean hasBias = bias != null;
    List<Object> args = hasBias ? List.of(x, w, 0.0, bias) : List.of(x, w, 0.0);
    Shape weightShape = w.shape();
    TfPadding padding = TfPadding.of(x.shape(), weightShape, spec);
    return kernels.run(
        "conv2d",
        spec.toString(),
        args,
        (tf, in) -> {
          int g = spec.groups();
          List<Operand> xs =
              TfConvolutionGraphs.groups(tf, transpose(tf, in.get(X), NCHW_TO_NHWC), g);
          Operand wh = transpose(tf, in.get(W), OIHW_TO_HWIO);
          if (TfConvolutionGraphs.dilated(spec)) {
            wh = TfConvolutionGraphs.dilateKernel(tf, wh, weightShape, spec, in.get(ZERO));
          }
          List<Operand> ws = TfConvolutionGraphs.groups(tf, wh, g);
          List<Conv2d.Options> options = new ArrayList<>();
          options.add(Conv2d.dilations(TfConvolutionGraphs.dilations(spec)));
          options.add(Conv2d.dataFormat("NHWC"));
          if (padding.isExplicit()) {
            options.add(Conv2d.explicitPaddings(padding.explicit()));
          }
          List<Operand> ys = new ArrayList<>();
          for (int i = 0; i < g; i++) {
            ys.add(
                tf.nn.conv2d(
                    xs.get(i),
                    ws.get(i),
                    TfConvolutionGraphs.strides(spec),
                    padding.scheme(),
                    options.toArray(Conv2d.Options[]::new)));
          }
          Operand y = transpose(tf, TfConvolutionGraphs.joinGroups(tf, ys), NHWC_TO_NCHW);
          if (hasBias) {
            int[] channels = {1, weightShape.dim(0), 1, 1};
            y = tf.math.add(y, tf.reshape(in.get(BIAS), tf.constant(channels)));
          }
          return y;
        });
  }

  /**
   * The gradients {@code args} asks for: one graph each, or one graph for both that shares the
   * layout transpose of the upstream gradient.
   */
  Conv2dGradients backward(Conv2dBackwardArgs args) {
    if (args.wantInput() && args.wantWeight()) {
      return bothGradients(args.x(), args.w(), args.gradOut(), args.spec());
    }
    if (args.wantInput()) {
      return new Conv2dGradients(
          inputGradient(args.gradOut(), args.w(), args.inputShape(), args.spec()), null);
    }
    return new Conv2dGradients(
        null, weightGradient(args.x(), args.gradOut(), args.weightShape(), args.spec()));
  }

  private Tensor inputGradient(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    Shape weightShape = w.shape();
    return kernels.run(
        "conv2dBackwardInput",
        spec + inputShape.toString(),
        List.of(gradOut, w, 0.0),
        (tf, in) ->
            TfConvolutionGraphs.inputGradient(
                tf,
                transpose(tf, in.get(GRAD_OUT), NCHW_TO_NHWC),
                in.get(OPERAND),
                weightShape,
                inputShape,
                spec,
                in.get(BACKWARD_ZERO)));
  }

  private Tensor weightGradient(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    Shape inputShape = x.shape();
    return kernels.run(
        "conv2dBackwardWeight",
        spec + weightShape.toString(),
        List.of(gradOut, x, 0.0),
        (tf, in) ->
            TfConvolutionGraphs.weightGradient(
                tf,
                transpose(tf, in.get(OPERAND), NCHW_TO_NHWC),
                transpose(tf, in.get(GRAD_OUT), NCHW_TO_NHWC),
                inputShape,
                weightShape,
                spec,
                in.get(BACKWARD_ZERO)));
  }

  private Conv2dGradients bothGradients(Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec) {
    Shape inputShape = x.shape();
    Shape weightShape = w.shape();
    List<Tensor> both =
        kernels.runAll(
            "conv2dBackward",
            spec.toString(),
            x.dtype(),
            List.of(x, w, gradOut, 0.0),
            (tf, in) -> {
              Operand gh = transpose(tf, in.get(BOTH_GRAD_OUT), NCHW_TO_NHWC);
              Operand zero = in.get(BOTH_ZERO);
              return List.of(
                  TfConvolutionGraphs.inputGradient(
                      tf, gh, in.get(BOTH_W), weightShape, inputShape, spec, zero),
                  TfConvolutionGraphs.weightGradient(
                      tf,
                      transpose(tf, in.get(BOTH_X), NCHW_TO_NHWC),
                      gh,
                      inputShape,
                      weightShape,
                      spec,
                      zero));
            });
    return new Conv2dGradients(both.get(0), both.get(1));
  }
}
