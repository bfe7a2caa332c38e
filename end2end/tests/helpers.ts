import { APIRequestContext, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANAGEMENT_TOKEN } from '../playwright.config';

const fixtures = path.resolve(__dirname, '../../server/tests/fixtures');

/** POSTs a fixture file byte for byte, signed as Smartcar signs it. */
export async function deliverFixture(request: APIRequestContext, name: string) {
  const body = fs.readFileSync(path.join(fixtures, name));
  const signature = createHmac('sha256', MANAGEMENT_TOKEN).update(body).digest('hex');
  const response = await request.post('/webhooks/smartcar', {
    data: body,
    headers: { 'content-type': 'application/json', 'sc-signature': signature },
  });
  expect(response.status()).toBe(200);
  expect(['stored', 'duplicate']).toContain((await response.json()).status);
  await settle(request);
}

/**
 * The Polestar's charging day in March, every fixture of it: charging, a session, then
 * unplugged and idle again. Specs that need it deliver all of it, so whichever runs first
 * leaves the vehicle in the same state (a retried delivery is a duplicate).
 */
export async function deliverPolestarDay(request: APIRequestContext) {
  for (const name of [
    '02_first_delivery.json',
    '03_charge_start.json',
    '04_charge_mid_session.json',
    '06_out_of_order_older.json',
    '07_partial_signal_failure.json',
    '10_charge_stop.json',
    '11_cable_unplugged.json',
  ]) {
    await deliverFixture(request, name);
  }
}

/**
 * Waits until the server has applied every stored delivery: the webhook answers once a
 * delivery is on disk, and its readings and sessions follow (`/readyz` counts those
 * still waiting).
 */
export async function settle(request: APIRequestContext) {
  await expect
    .poll(async () => (await (await request.get('/readyz')).json()).waiting, { timeout: 15_000 })
    .toBe(0);
}

export function screenshotPath(name: string, project: string) {
  return path.resolve(__dirname, '../output/screenshots', `${name}-${project}.png`);
}

/** Signs and POSTs any body; returns the response. */
export async function postSigned(request: APIRequestContext, body: Buffer | string) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const signature = createHmac('sha256', MANAGEMENT_TOKEN).update(bytes).digest('hex');
  const response = await request.post('/webhooks/smartcar', {
    data: bytes,
    headers: { 'content-type': 'application/json', 'sc-signature': signature },
  });
  if (response.ok()) await settle(request);
  return response;
}

/**
 * Fixture 12 (a charging car's FIRST_DELIVERY) turned into a delivery for another
 * vehicle with a given state of charge at a given time, so a spec can own a vehicle no
 * other spec touches.
 */
export function chargingDelivery(vehicleId: string, make: string, soc: number, at: number) {
  const e = JSON.parse(fs.readFileSync(path.join(fixtures, '12_doc_variant_first_delivery_already_charging.json'), 'utf8'));
  e.eventId = `${vehicleId}-${at}-${soc}`;
  e.vehicleId = vehicleId;
  e.data.vehicle = { id: vehicleId, make, model: 'EV6', year: 2024 };
  for (const s of e.data.signals) {
    s.meta.oemUpdatedAt = at;
    if (s.code === 'tractionbattery-stateofcharge') s.body.value = soc;
  }
  return JSON.stringify(e);
}

/**
 * One charging session of `vehicleId` at a spot, delivered as Smartcar would: a delivery
 * when it starts (charging, plugged in, the location) and one when it stops, `minutes`
 * later, with `kwh` added. Built from fixture 12, so a spec can own vehicles and places
 * no other spec touches.
 */
export async function chargeAt(
  request: APIRequestContext,
  vehicleId: string,
  spot: { latitude: number; longitude: number },
  start: number,
  minutes: number,
  kwh: number,
) {
  const base = JSON.parse(
    fs.readFileSync(path.join(fixtures, '12_doc_variant_first_delivery_already_charging.json'), 'utf8'),
  );
  const delivery = (at: number, charging: boolean, added: number, soc: number) => {
    const e = structuredClone(base);
    e.eventId = `${vehicleId}-${at}-${charging}`;
    e.vehicleId = vehicleId;
    e.data.vehicle = { id: vehicleId, make: 'RENAULT', model: 'Megane E-Tech', year: 2025 };
    e.data.signals = e.data.signals.filter((s: { code: string }) => s.code !== 'charge-wattage');
    for (const s of e.data.signals) {
      s.meta = { oemUpdatedAt: at, fetchedAt: at + 5_000 };
      if (s.code === 'charge-ischarging') s.body.value = charging;
      if (s.code === 'charge-energyadded') s.body.value = added;
      if (s.code === 'tractionbattery-stateofcharge') s.body.value = soc;
    }
    e.data.signals.push({
      code: 'location-preciselocation',
      name: 'PreciseLocation',
      group: 'Location',
      body: { ...spot, heading: 0, direction: 'N', locationType: 'LAST_PARKED' },
      meta: { oemUpdatedAt: at, fetchedAt: at + 5_000 },
    });
    return JSON.stringify(e);
  };
  for (const body of [delivery(start, true, 0, 30), delivery(start + minutes * 60_000, false, kwh, 80)]) {
    expect((await postSigned(request, body)).status()).toBe(200);
  }
}
