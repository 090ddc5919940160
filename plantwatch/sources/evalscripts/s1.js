//VERSION=3
// Sentinel-1 GRD (IW, dual polarisation VV+VH): linear backscatter (sigma0 with the
// processing options of the request) as float32, and dataMask last. plantwatch converts
// to dB after download.
function setup() {
  return {
    input: [{ bands: ["VV", "VH", "dataMask"] }],
    output: { bands: 3, sampleType: "FLOAT32" }
  };
}

function evaluatePixel(s) {
  return [s.VV, s.VH, s.dataMask];
}
