// simple-peer's prebuilt browser bundle (what y-webrtc imports too): the plain entry needs Node
// polyfills. It ships no typings; this is the part the mesh uses.
declare module 'simple-peer/simplepeer.min.js' {
  const SimplePeer: import('./mesh-simple-peer.ts').MeshPeerConstructor;
  export default SimplePeer;
}
