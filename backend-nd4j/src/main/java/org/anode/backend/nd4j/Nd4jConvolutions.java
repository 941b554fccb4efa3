package org.anode.backend.nd4j;

import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The ND4J backend's convolutions: libnd4j's {@code conv2d} and {@code conv2d_bp} (both gradients
 * from one call), in NHWC where {@link ChannelsLastLayout} says so, channel groups as one native
 * call per group, and the dilation workaround ({@link #execConv}).
 */
final class Nd4jConvolutions {
  private final Nd4jBackend backend;

  Nd4jConvolutions(Nd4jBackend backend) {
    this.backend = backend;
  }

  private static int[] convArgs(Shape w, Conv2dSpec s, boolean nhwc) {
    return new int[] {
      w.dim(2),
      w.dim(3),
      s.strideH(),
      s.strideW(),
      s.padH(),
      s.padW(),
      s.dilationH(),
      s.dilationW(),
      0, // explicit padding
      nhwc ? 1 : 0, // data format: NHWC or NCHW
      1 // weights [out, in, kH, kW]
    };
  }

  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape outShape) {
    Nd4jTensor tx = Nd4jBackend.own(x);
    INDArray wa = Nd4jBackend.arr(w);
    INDArray ba = bias == null ? null : Nd4jBackend.arr(bias);
    int g = spec.groups();
    if (OneDnnConvolutions.serves(x.dtype(), x.shape(), w.shape(), spec)) {
      return oneDnnForward(tx, wa, ba, w.shape(), spec, false, outShape);
    }
    if (ChannelsLastLayout.convolutionKernel(x.dtype(), spec)) {
      INDArray xl = tx.channelsLastOrNull();
      if (xl != null || outShape.numel() * x.dtype().byteSize() >= ChannelsLastLayout.MIN_BYTES) {
        // oneDNN's direct kernel reads and writes NHWC. A channels-last input is read as it is; an
        // NCHW one is reordered by oneDNN. The output stays channels-last: handed an NCHW output,
        // oneDNN reorders it in a transpose that costs ~half a convolution.
        INDArray xa = xl != null ? xl : tx.array();
        return backend.create(
            x.dtype(),
            outShape,
            StorageLayout.NHWC,
            z -> {
              if (xl != null) {
                conv(xa, wa, ba, w.shape(), spec, true, z);
              } else {
                conv(xa, wa, ba, w.shape(), spec, false, z.permute(0, 3, 1, 2));
              }
            });
      }
    }
    INDArray xa = tx.array();
    if (g == 1) {
      return backend.create(x.dtype(), outShape, z -> conv(xa, wa, ba, w.shape(), spec, false, z));
    }
    int cin = x.shape().dim(1) / g;
    int cout = w.shape().dim(0) / g;
    Shape wg = w.shape().with(0, cout);
    return backend.create(
        x.dtype(),
        outShape,
        z -> {
          try (Nd4jScratch s = new Nd4jScratch()) {
            INDArray[] outs = new INDArray[g];
            for (int i = 0; i < g; i++) {
              outs[i] = s.get(x.dtype(), outShape.with(1, cout));
              conv(
                  s.copy(Nd4jArrays.sliceView(xa, 1, i * cin, (i + 1) * cin)),
                  s.copy(Nd4jArrays.sliceView(wa, 0, i * cout, (i + 1) * cout)),
                  ba == null ? null : s.copy(Nd4jArrays.sliceView(ba, 0, i * cout, (i + 1) * cout)),
                  wg,
                  spec,
                  false,
                  outs[i]);
            }
            Nd4jArrays.concatInto(outs, 1, z);
          }
        });
  }

  /**
   * {@code relu(conv2d(x, w, bias))} on the oneDNN route, the ReLU in place over the convolution's
   * output (no second tensor), or null when the route does not serve this convolution and the
   * caller composes the two.
   */
  Tensor conv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape outShape) {
    if (!OneDnnConvolutions.serves(x.dtype(), x.shape(), w.shape(), spec)) {
      return null;
    }
    INDArray ba = bias == null ? null : Nd4jBackend.arr(bias);
    return oneDnnForward(
        Nd4jBackend.own(x), Nd4jBackend.arr(w), ba, w.shape(), spec, true, outShape);
  }

  /**
   * oneDNN called directly, with the ReLU in place after it when {@code relu}: the input read in
   * (or copied to) its {@link OneDnnConvolutions#sourceLayout}, the output left blocked for the
   * block to keep.
   */
  private Tensor oneDnnForward(
      Nd4jTensor tx,
      INDArray wa,
      INDArray ba,
      Shape wShape,
      Conv2dSpec spec,
      boolean relu,
      Shape outShape) {
    StorageLayout blocked = OneDnn.blockedLayout();
    return backend.create(
        tx.dtype(),
        outShape,
        blocked,
        z -> {
          try (Nd4jScratch s = new Nd4jScratch()) {
            OneDnnConvolutions.forward(
                s.inLayout(tx, OneDnnConvolutions.sourceLayout(tx.shape(), blocked)),
                wa,
                ba,
                tx.shape(),
                wShape,
                spec,
                relu,
                blocked,
                z);
          }
        });
  }

  /**
   * libnd4j's {@code conv2d}: {@code x} and {@code out} are {@code [N, H, W, C]} when {@code nhwc},
   * else NCHW (possibly views with other strides, which oneDNN reads as they are).
   */
  private static void conv(
      INDArray x,
      INDArray w,
      INDArray b,
      Shape wShape,
      Conv2dSpec spec,
      boolean nhwc,
      INDArray out) {
    DynamicCustomOp.DynamicCustomOpsBuilder op =
        DynamicCustomOp.builder("conv2d").addIntegerArguments(convArgs(wShape, spec, nhwc));
    op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
    execConv(op.addOutputs(out).build(), spec);
  }

  /**
   * Runs a convolution op. ND4J 1.0.0-M2.1 hands dilations to oneDNN in a form oneDNN rejects
   * ("could not create a descriptor for a dilated convolution"), so dilated convolutions run on
   * libnd4j's own kernels with the oneDNN helpers switched off for that call.
   */
  private static void execConv(DynamicCustomOp op, Conv2dSpec spec) {
    if (spec.dilationH() == 1 && spec.dilationW() == 1) {
      Nd4j.exec(op);
      return;
    }
    synchronized (Nd4jConvolutions.class) {
      boolean helpers = Nd4j.getEnvironment().helpersAllowed();
      Nd4j.getEnvironment().allowHelpers(false);
      try {
        Nd4j.exec(op);
      } finally {
        Nd4j.getEnvironment().allowHelpers(helpers);
      }
    }
  }

  /**
   * libnd4j's {@code conv2d_bp} yields both gradients from one call. When the input or the output
   * gradient is kept channels-last, the call runs in NHWC (the other operand copied to it) and the
   * input gradient is channels-last too: oneDNN reorders NHWC operands to its blocked layouts no
   * slower than NCHW ones, while NCHW views of NHWC memory took it twice as long.
   */
  Conv2dGradients conv2dBackward(Conv2dBackwardArgs args) {
    return args.withBothOperands(backend, this::conv2dBackward);
  }

  private Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    Nd4jTensor tg = Nd4jBackend.own(gradOut);
    Nd4jTensor tx = Nd4jBackend.own(x);
    INDArray wa = Nd4jBackend.arr(w);
    if (OneDnnConvolutions.serves(x.dtype(), x.shape(), w.shape(), spec)) {
      return directBackward(tx, wa, tg, w.shape(), spec, input, weight);
    }
    boolean nhwc =
        ChannelsLastLayout.convolutionKernel(x.dtype(), spec)
            && (tx.channelsLastOrNull() != null || tg.channelsLastOrNull() != null);
    DType dt = x.dtype();
    int g = spec.groups();
    StorageLayout gxLayout = nhwc ? StorageLayout.NHWC : StorageLayout.NCHW;
    Shape gxShape = gxLayout.storageShape(x.shape());
    // libnd4j always writes both gradients: the one not requested goes to scratch memory.
    Nd4jMemory.Block gxBlock = input ? Nd4jMemory.scratch(dt, gxShape) : null;
    Nd4jMemory.Block gwBlock = weight ? Nd4jMemory.scratch(dt, w.shape()) : null;
    try (Nd4jScratch s = new Nd4jScratch()) {
      INDArray gx = gxBlock != null ? gxBlock.array() : s.get(dt, gxShape);
      INDArray gw = gwBlock != null ? gwBlock.array() : s.get(dt, w.shape());
      if (nhwc) {
        convBp(s.channelsLast(tx), wa, s.channelsLast(tg), w.shape(), spec, true, gx, gw);
      } else if (g == 1) {
        convBp(tx.array(), wa, tg.array(), w.shape(), spec, false, gx, gw);
      } else {
        INDArray xa = tx.array();
        INDArray ga = tg.array();
        int cin = x.shape().dim(1) / g;
        int cout = w.shape().dim(0) / g;
        Shape wg = w.shape().with(0, cout);
        INDArray[] gxs = new INDArray[g];
        INDArray[] gws = new INDArray[g];
        for (int i = 0; i < g; i++) {
          gxs[i] = s.get(dt, x.shape().with(1, cin));
          gws[i] = s.get(dt, wg);
          convBp(
              s.copy(Nd4jArrays.sliceView(xa, 1, i * cin, (i + 1) * cin)),
              s.copy(Nd4jArrays.sliceView(wa, 0, i * cout, (i + 1) * cout)),
              s.copy(Nd4jArrays.sliceView(ga, 1, i * cout, (i + 1) * cout)),
              wg,
              spec,
              false,
              gxs[i],
              gws[i]);
        }
        Nd4jArrays.concatInto(gxs, 1, gx);
        Nd4jArrays.concatInto(gws, 0, gw);
      }
    } catch (RuntimeException | Error e) {
      Nd4jMemory.freeAll(gxBlock, gwBlock);
      throw e;
    }
    return gradients(x.shape(), w.shape(), dt, gxLayout, gxBlock, gwBlock);
  }

  /**
   * Both gradients by oneDNN called directly, each only when asked for: operands in the layouts
   * oneDNN reads (copied to them when kept otherwise), the input gradient left in the input's.
   */
  private Conv2dGradients directBackward(
      Nd4jTensor tx,
      INDArray wa,
      Nd4jTensor tg,
      Shape wShape,
      Conv2dSpec spec,
      boolean input,
      boolean weight) {
    DType dt = tx.dtype();
    Shape xShape = tx.shape();
    StorageLayout blocked = OneDnn.blockedLayout();
    StorageLayout source = OneDnnConvolutions.sourceLayout(xShape, blocked);
    Nd4jMemory.Block gxBlock = null;
    Nd4jMemory.Block gwBlock = weight ? Nd4jMemory.scratch(dt, wShape) : null;
    try (Nd4jScratch s = new Nd4jScratch()) {
      INDArray gy = s.inLayout(tg, blocked);
      // The weight gradient first: its scratch (oneDNN's blocked weights, smaller than the input)
      // is given back before the input gradient is allocated.
      if (gwBlock != null) {
        OneDnnConvolutions.backwardWeights(
            s.inLayout(tx, source), gy, xShape, wShape, spec, blocked, gwBlock.array());
      }
      if (input) {
        gxBlock = Nd4jMemory.scratch(dt, source.storageShape(xShape));
        OneDnnConvolutions.backwardData(gy, wa, xShape, wShape, spec, blocked, gxBlock.array());
      }
    } catch (RuntimeException | Error e) {
      Nd4jMemory.freeAll(gxBlock, gwBlock);
      throw e;
    }
    return gradients(xShape, wShape, dt, source, gxBlock, gwBlock);
  }

  /** The gradients as tensors: the input's stored in {@code inputLayout}, the weight's OIHW. */
  private Conv2dGradients gradients(
      Shape xShape,
      Shape wShape,
      DType dt,
      StorageLayout inputLayout,
      Nd4jMemory.Block gxBlock,
      Nd4jMemory.Block gwBlock) {
    return new Conv2dGradients(
        gxBlock == null
            ? null
            : new Nd4jTensor(backend, gxBlock.handOver(), xShape, dt, inputLayout),
        gwBlock == null
            ? null
            : new Nd4jTensor(backend, gwBlock.handOver(), wShape, dt, StorageLayout.NCHW));
  }

  private static void convBp(
      INDArray x,
      INDArray w,
      INDArray gradOut,
      Shape wShape,
      Conv2dSpec spec,
      boolean nhwc,
      INDArray gx,
      INDArray gw) {
    execConv(
        DynamicCustomOp.builder("conv2d_bp")
            .addInputs(x, w, gradOut)
            .addOutputs(gx, gw)
            .addIntegerArguments(convArgs(wShape, spec, nhwc))
            .build(),
        spec);
  }
}
