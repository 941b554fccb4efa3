package org.anode.train;

/** What one epoch of training measured. */
public record EpochMetrics(
    int epoch,
    double learningRate,
    double trainLoss,
    double trainAccuracy,
    double testLoss,
    double testAccuracy,
    double seconds,
    double imagesPerSecond,
    long peakSavedBytes,
    long peakLiveBytes) {

  static final String CSV_HEADER =
      "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,peak_saved_bytes,"
          + "peak_live_bytes";

  String csv() {
    return String.format(
        java.util.Locale.ROOT,
        "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%d,%d",
        epoch,
        learningRate,
        trainLoss,
        trainAccuracy,
        testLoss,
        testAccuracy,
        seconds,
        imagesPerSecond,
        peakSavedBytes,
        peakLiveBytes);
  }

  String json() {
    return String.format(
        java.util.Locale.ROOT,
        "{\"epoch\":%d,\"lr\":%g,\"train_loss\":%.6f,\"train_acc\":%.6f,\"test_loss\":%.6f,"
            + "\"test_acc\":%.6f,\"seconds\":%.3f,\"images_per_s\":%.1f,\"peak_saved_bytes\":%d,"
            + "\"peak_live_bytes\":%d}",
        epoch,
        learningRate,
        trainLoss,
        trainAccuracy,
        testLoss,
        testAccuracy,
        seconds,
        imagesPerSecond,
        peakSavedBytes,
        peakLiveBytes);
  }
}
