// Track a box through frames with the asymtrack C library from C++ (compiled by the CMake build).
// Frames come from your pipeline (here: grey test frames); link with asymtrack.
#include <asymtrack.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct BundleCloser { void operator()(asymtrack_bundle* b) const { asymtrack_bundle_close(b); } };
struct TrackerDestroyer { void operator()(asymtrack_tracker* t) const { asymtrack_tracker_destroy(t); } };

int main(int argc, char** argv) try {
    if (argc != 2) { std::fprintf(stderr, "usage: %s BUNDLE_DIR\n", argv[0]); return 2; }
    asymtrack_bundle* raw_bundle = nullptr;
    asymtrack_status status = asymtrack_bundle_open(argv[1], "CPU", 0, &raw_bundle);
    std::unique_ptr<asymtrack_bundle, BundleCloser> bundle(raw_bundle);
    if (status != ASYMTRACK_OK) throw std::runtime_error(asymtrack_bundle_last_error(bundle.get()));
    asymtrack_tracker* raw_tracker = nullptr;
    if (asymtrack_tracker_create(bundle.get(), &raw_tracker) != ASYMTRACK_OK)
        throw std::runtime_error(asymtrack_bundle_last_error(bundle.get()));
    std::unique_ptr<asymtrack_tracker, TrackerDestroyer> tracker(raw_tracker);

    const int width = 320, height = 240;
    std::vector<uint8_t> frame(width * height * 3, 128);  // BGR, as cv::Mat stores it
    asymtrack_box box = {140, 100, 40, 40};
    if (asymtrack_tracker_init(tracker.get(), frame.data(), width, height, width * 3, ASYMTRACK_PIXEL_BGR, &box))
        throw std::runtime_error(asymtrack_tracker_last_error(tracker.get()));
    for (int i = 1; i < 5; ++i) {
        float score = 0;
        if (asymtrack_tracker_update(tracker.get(), frame.data(), width, height, width * 3, ASYMTRACK_PIXEL_BGR, &box, &score))
            throw std::runtime_error(asymtrack_tracker_last_error(tracker.get()));
        std::printf("%.2f,%.2f,%.2f,%.2f,%.3f\n", box.x, box.y, box.width, box.height, score);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
