// The trial viewer: draws the robot from its URDF visual geometry, the
// ball's true path, the estimate with its 2σ ellipsoid, the forecast fan and
// the planned head path of one trial at a time, with a time slider and
// playback at real or slowed speed. Data come from the page's JSON block
// (package view). World frame: z up, x toward the thrower, metres.
import * as THREE from 'three';

const errorsEl = document.getElementById('errors');
function fail(msg) {
  errorsEl.textContent += msg + '\n';
  document.body.dataset.status = 'error';
}
window.addEventListener('error', (e) => fail('error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => fail('rejection: ' + e.reason));

const data = JSON.parse(document.getElementById('data').textContent);

// --- scene ---------------------------------------------------------------
const canvasBox = document.getElementById('view');
const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(1);
canvasBox.appendChild(renderer.domElement);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xf4f5f7);
const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 50);
camera.up.set(0, 0, 1);
scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f99, 1.4));
const sun = new THREE.DirectionalLight(0xffffff, 2.2);
sun.position.set(4, -3, 6);
scene.add(sun);
const fill = new THREE.DirectionalLight(0xffffff, 0.8);
fill.position.set(-3, 4, 2);
scene.add(fill);
const grid = new THREE.GridHelper(8, 16, 0xb0b4bb, 0xd5d8dd);
grid.rotation.x = Math.PI / 2; // GridHelper lies in x–z; the floor is x–y
grid.position.set(2, 0, 0);
scene.add(grid);

// Orbit camera: drag to turn, wheel to zoom, around a target near the catch region.
// The default view looks at the robot from its right front, the throw
// coming in from the right of the picture.
const orbit = { target: new THREE.Vector3(1.1, 0, 0.95), r: 3.9, az: -1.15, el: 0.28 };
function placeCamera() {
  const c = Math.cos(orbit.el);
  camera.position.set(orbit.target.x + orbit.r * c * Math.cos(orbit.az),
    orbit.target.y + orbit.r * c * Math.sin(orbit.az), orbit.target.z + orbit.r * Math.sin(orbit.el));
  camera.lookAt(orbit.target);
}
let drag = null;
renderer.domElement.addEventListener('pointerdown', (e) => { drag = [e.clientX, e.clientY]; });
window.addEventListener('pointerup', () => { drag = null; });
window.addEventListener('pointermove', (e) => {
  if (!drag) return;
  orbit.az -= (e.clientX - drag[0]) * 0.008;
  orbit.el = Math.max(-0.2, Math.min(1.5, orbit.el + (e.clientY - drag[1]) * 0.008));
  drag = [e.clientX, e.clientY];
  placeCamera(); render();
});
renderer.domElement.addEventListener('wheel', (e) => {
  e.preventDefault();
  orbit.r = Math.max(0.8, Math.min(15, orbit.r * Math.exp(e.deltaY * 0.001)));
  placeCamera(); render();
}, { passive: false });

function resize() {
  const w = canvasBox.clientWidth, h = canvasBox.clientHeight;
  renderer.setSize(w, h, false);
  renderer.domElement.style.width = w + 'px';
  renderer.domElement.style.height = h + 'px';
  camera.aspect = w / Math.max(1, h);
  camera.updateProjectionMatrix();
  render();
}

// --- robot from the URDF's visual geometry --------------------------------
function matrixOf(o) { // o: {R: 3x3 row-major, P: xyz}
  const m = new THREE.Matrix4();
  const R = o.R, P = o.P;
  m.set(R[0][0], R[0][1], R[0][2], P[0], R[1][0], R[1][1], R[1][2], P[1], R[2][0], R[2][1], R[2][2], P[2], 0, 0, 0, 1);
  return m;
}
function b64floats(s) {
  const bin = atob(s);
  const buf = new ArrayBuffer(bin.length);
  const u8 = new Uint8Array(buf);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return new Float32Array(buf);
}
const meshGeoms = data.robot.meshes.map((m) => {
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.BufferAttribute(b64floats(m), 3));
  g.computeVertexNormals();
  return g;
});
function visualObject(v) {
  const mat = new THREE.MeshStandardMaterial({ color: new THREE.Color(v.color[0], v.color[1], v.color[2]),
    roughness: 0.6, metalness: 0.1, transparent: v.color[3] < 1, opacity: v.color[3], side: THREE.DoubleSide });
  let g;
  switch (v.kind) {
    case 'mesh': g = meshGeoms[v.mesh]; break;
    case 'box': g = new THREE.BoxGeometry(v.size[0], v.size[1], v.size[2]); break;
    case 'sphere': g = new THREE.SphereGeometry(v.size[0], 24, 16); break;
    case 'cylinder': // URDF cylinders lie along z; three's along y
      g = new THREE.CylinderGeometry(v.size[0], v.size[0], v.size[1], 32, 1, v.size[2] === 1);
      g.rotateX(Math.PI / 2);
      break;
    default: throw new Error('unknown visual kind ' + v.kind);
  }
  const mesh = new THREE.Mesh(g, mat);
  if (v.kind === 'mesh' && v.scale) mesh.scale.set(v.scale[0], v.scale[1], v.scale[2]);
  const o = new THREE.Group();
  o.matrixAutoUpdate = false;
  o.matrix.copy(matrixOf(v.origin));
  o.add(mesh);
  return o;
}
const linkObj = {};
function linkGroup(name) {
  if (!linkObj[name]) { linkObj[name] = new THREE.Group(); linkObj[name].name = name; }
  return linkObj[name];
}
const robotRoot = linkGroup(data.robot.root);
scene.add(robotRoot);
const motion = {}; // joint name → {group, type, axis}
for (const j of data.robot.joints) {
  const origin = new THREE.Group();
  origin.matrixAutoUpdate = false;
  origin.matrix.copy(matrixOf(j.origin));
  const mv = new THREE.Group();
  origin.add(mv);
  mv.add(linkGroup(j.child));
  linkGroup(j.parent).add(origin);
  motion[j.name] = { group: mv, type: j.type, axis: new THREE.Vector3(j.axis[0], j.axis[1], j.axis[2]) };
}
for (const v of data.robot.visuals) linkGroup(v.link).add(visualObject(v));
function setJoints(q) {
  data.robot.chain.forEach((name, i) => {
    const m = motion[name];
    if (!m) return;
    if (m.type === 'prismatic') { m.group.position.copy(m.axis).multiplyScalar(q[i]); m.group.quaternion.identity(); }
    else { m.group.position.set(0, 0, 0); m.group.quaternion.setFromAxisAngle(m.axis, q[i]); }
  });
}

// --- trial overlays --------------------------------------------------------
const overlay = new THREE.Group();
scene.add(overlay);
const ballMat = new THREE.MeshBasicMaterial({ color: 0xccff00 }); // unlit: an exact colour on screen
const ball = new THREE.Mesh(new THREE.SphereGeometry(0.045, 24, 16), ballMat);
scene.add(ball);
const est = new THREE.Mesh(new THREE.SphereGeometry(1, 20, 12),
  new THREE.MeshBasicMaterial({ color: 0x1f77b4, transparent: true, opacity: 0.35, depthWrite: false }));
scene.add(est);
const estDot = new THREE.Mesh(new THREE.SphereGeometry(0.015, 12, 8), new THREE.MeshBasicMaterial({ color: 0x1f77b4 }));
scene.add(estDot);
function line(points, color, opts = {}) {
  const g = new THREE.BufferGeometry().setFromPoints(points);
  const m = opts.dashed ? new THREE.LineDashedMaterial({ color, dashSize: 0.04, gapSize: 0.03 })
    : new THREE.LineBasicMaterial({ color, transparent: !!opts.opacity, opacity: opts.opacity || 1 });
  const l = new THREE.Line(g, m);
  if (opts.dashed) l.computeLineDistances();
  return l;
}
let dyn = new THREE.Group(); // per-tick overlays (forecast fan, plan)
scene.add(dyn);

let trial = null, tick = 0, playing = false, speed = 1, lastWall = 0, simT = 0;
const $ = (id) => document.getElementById(id);
const slider = $('slider');

function v3(a, i) { return new THREE.Vector3(a[3 * i], a[3 * i + 1], a[3 * i + 2]); }

function loadTrial(k) {
  trial = data.trials[k];
  overlay.clear();
  const n = trial.t.length;
  const path = [];
  for (let i = 0; i < n; i++) path.push(v3(trial.ball, i));
  overlay.add(line(path, 0xd62728)); // true path
  const head = [];
  for (let i = 0; i < n; i++) head.push(v3(trial.head, i));
  overlay.add(line(head, 0x7f7f7f, { opacity: 0.6 }));
  slider.max = n - 1;
  document.querySelectorAll('#trials li').forEach((li, i) => li.classList.toggle('sel', i === k));
  const verdict = trial.caught ? `caught at ${trial.catch_time_s.toFixed(3)} s` : `missed: ${trial.failure}`;
  $('verdict').textContent = `${trial.controller} · ${trial.scenario} · seed ${trial.seed} · trial ${trial.trial} — ${verdict}` +
    (trial.miss_m > 0 ? ` · closest ${(100 * trial.miss_m).toFixed(1)} cm` : '') +
    (trial.speed_mps > 0 ? ` · yaw ${trial.yaw_deg.toFixed(1)}° · ${trial.speed_mps.toFixed(2)} m/s` : '');
  if (!trial.truth) $('verdict').textContent += ' · no ground truth (a trial log): the ball is drawn at its estimate';
  $('verdict').className = trial.caught ? 'ok' : 'bad';
  setTick(0);
}

const G = 9.80665;
function setTick(i) {
  tick = Math.max(0, Math.min(trial.t.length - 1, i));
  slider.value = tick;
  simT = trial.t[tick];
  const q = trial.q.slice(tick * trial.dof, (tick + 1) * trial.dof);
  setJoints(q);
  ball.position.copy(v3(trial.ball, tick));
  dyn.clear();
  const e = trial.est.slice(tick * 7, tick * 7 + 7); // valid, x, y, z, vx, vy, vz
  if (e[0] === 1) {
    const p = new THREE.Vector3(e[1], e[2], e[3]), v = new THREE.Vector3(e[4], e[5], e[6]);
    const s = trial.est_sd.slice(tick * 6, tick * 6 + 6);
    est.visible = estDot.visible = true;
    est.position.copy(p); estDot.position.copy(p);
    est.scale.set(Math.max(0.004, 2 * s[0]), Math.max(0.004, 2 * s[1]), Math.max(0.004, 2 * s[2]));
    if (trial.fc && trial.fc[tick]) drawSampledFan(trial.fc[tick]);
    else drawEstimateFan(p, v, s);
  } else {
    est.visible = estDot.visible = false;
  }
  const plan = trial.plan[tick];
  if (plan && plan.length >= 6) {
    const pts = [];
    for (let k = 0; k < plan.length / 3; k++) pts.push(v3(plan, k));
    dyn.add(line(pts, 0x2ca02c));
    const end = new THREE.Mesh(new THREE.SphereGeometry(0.03, 12, 8), new THREE.MeshBasicMaterial({ color: 0x2ca02c }));
    end.position.copy(pts[pts.length - 1]);
    dyn.add(end);
  }
  $('time').textContent = `t = ${simT.toFixed(3)} s  ·  ${trial.status[tick]}` + (trial.events[tick] ? `  ·  ${trial.events[tick]}` : '');
  render();
}

// The fan from the estimate when no sampled forecast ran: the ballistic
// path of the estimate with its 2σ spread growing with the velocity's σ.
function drawEstimateFan(p, v, s) {
  const mid = [], lo = [], hi = [];
  for (let k = 0; k <= 20; k++) {
    const dt = 0.03 * k;
    const c = new THREE.Vector3(p.x + v.x * dt, p.y + v.y * dt, p.z + v.z * dt - 0.5 * G * dt * dt);
    if (c.z < 0 || c.x < -0.6) break;
    const r = 2 * Math.hypot(s[1], s[2]) + 2 * Math.hypot(s[4], s[5]) * dt;
    mid.push(c);
    lo.push(new THREE.Vector3(c.x, c.y - r, c.z - r));
    hi.push(new THREE.Vector3(c.x, c.y + r, c.z + r));
  }
  if (mid.length < 2) return;
  dyn.add(line(mid, 0x1f77b4, { dashed: true }));
  dyn.add(line(lo, 0x1f77b4, { opacity: 0.45 }));
  dyn.add(line(hi, 0x1f77b4, { opacity: 0.45 }));
}
// A sampled forecast: 5%, 50%, 95% quantile paths over the horizons.
function drawSampledFan(f) { // f: [q05 xyz…, q50 xyz…, q95 xyz…] per horizon
  const nh = f.length / 9;
  for (let q = 0; q < 3; q++) {
    const pts = [];
    for (let h = 0; h < nh; h++) pts.push(new THREE.Vector3(f[h * 9 + q * 3], f[h * 9 + q * 3 + 1], f[h * 9 + q * 3 + 2]));
    dyn.add(line(pts, 0x9467bd, q === 1 ? {} : { opacity: 0.5 }));
  }
}

function render() { renderer.render(scene, camera); }

function frame(now) {
  if (playing && trial) {
    const dt = lastWall ? (now - lastWall) / 1000 : 0;
    simT += dt * speed;
    let i = tick;
    while (i < trial.t.length - 1 && trial.t[i + 1] <= simT) i++;
    if (i >= trial.t.length - 1) { playing = false; $('play').textContent = 'play'; }
    if (i !== tick) setTick(i); else simT = Math.max(simT, trial.t[tick]);
  }
  lastWall = now;
  requestAnimationFrame(frame);
}

// --- controls --------------------------------------------------------------
slider.addEventListener('input', () => { playing = false; $('play').textContent = 'play'; setTick(+slider.value); });
$('play').addEventListener('click', () => {
  if (tick >= trial.t.length - 1) setTick(0);
  playing = !playing; lastWall = 0;
  $('play').textContent = playing ? 'pause' : 'play';
});
$('speed').addEventListener('change', () => { speed = +$('speed').value; });
const list = $('trials');
data.trials.forEach((tr, k) => {
  const li = document.createElement('li');
  li.textContent = `${tr.caught ? '✓' : '✗'} ${tr.controller} ${tr.scenario} #${tr.trial}` + (tr.caught ? '' : ` (${tr.failure})`);
  li.className = tr.caught ? 'ok' : 'bad';
  li.addEventListener('click', () => loadTrial(k));
  list.appendChild(li);
});
const pv = data.provenance || {};
$('prov').textContent = `page by ${pv.module || 'catch'} ${pv.version || ''} ${pv.vcs_revision ? pv.vcs_revision.slice(0, 12) : ''}` +
  (pv.command ? ` · ${pv.command.join(' ')}` : '');
$('count').textContent = `${data.trials.length} of ${data.total} trials` + (data.total > data.trials.length ? ' (a selection of caught and missed per controller and scenario)' : '');

window.addEventListener('resize', resize);
placeCamera();
resize();
if (data.trials.length === 0) throw new Error('no trials in this page');
const start = new URLSearchParams(location.search).get('trial');
loadTrial(start ? Math.min(+start, data.trials.length - 1) : 0);
// Open at the catch (or the closest approach) so a still picture shows the moment.
setTick(data.trials[start ? Math.min(+start, data.trials.length - 1) : 0].focus);
requestAnimationFrame(frame);
document.body.dataset.status = errorsEl.textContent ? 'error' : 'ready';
