/**
 * Contact details for staff, members and unions: phone numbers on real Nigerian network
 * prefixes (local and +234 forms, as staff type them), client IPs from Nigerian ranges,
 * street addresses, and e-mail addresses kept unique per run.
 */
import type { Place } from './demo-reference.data';
import type { Rng } from './seeded-random.util';

const STREETS: Record<string, readonly string[]> = {
  Lagos: ['Allen Avenue', 'Bode Thomas Street', 'Herbert Macaulay Way', 'Ikorodu Road', 'Agege Motor Road', 'Adeniran Ogunsanya Street', 'Isale Eko Street', 'Ojuelegba Road', 'Olúwọlé Close', 'Awolowo Road'],
  Oyo: ['Iwo Road', 'Oke-Ado Road', 'Ring Road', 'Mokola Road', 'Ìdí-Àràbà Street', 'Station Road'],
  Ogun: ['Oba Adesida Road', 'Ibara Road', 'Sapon Street', 'Ijebu-Ode Road'],
  Osun: ['Station Road', 'Gbongan Road', 'Ogo Oluwa Street'],
  Kwara: ['Unity Road', 'Taiwo Road', 'Ahmadu Bello Way'],
  Edo: ['Sapele Road', 'Akpakpava Street', 'Airport Road', 'Ugbowo Road'],
  Anambra: ['New Market Road', 'Zik Avenue', 'Old Market Road'],
  Enugu: ['Ogui Road', 'Agbani Road', 'Zik Avenue'],
  Rivers: ['Ikwerre Road', 'Aba Road', 'Rumuola Road'],
  FCT: ['Ahmadu Bello Way', 'Herbert Macaulay Way', 'Aminu Kano Crescent'],
  Kano: ['Murtala Mohammed Way', 'Zoo Road', 'France Road'],
};
const PHONE_PREFIXES = ['803', '806', '813', '816', '810', '814', '903', '906', '703', '706', '805', '807', '815', '811', '905', '802', '808', '812', '701', '708', '902', '901', '907', '809', '817', '818', '909', '908', '704', '913', '916'];
const IP_PREFIXES = ['102.89', '105.112', '197.210', '41.184', '129.205', '102.88', '154.113', '41.58'];

/** Letters, digits and hyphens only (diacritics dropped): names as they appear in e-mail addresses. */
export function ascii(s: string): string {
  return s.normalize('NFD').replace(/[^A-Za-z0-9-]/g, '');
}

/** Seven in ten typed the local way (0803...), the rest in international form. */
export function phoneNumber(r: Rng): string {
  const local = r.pick(PHONE_PREFIXES) + r.digits(7);
  return r.chance(0.7) ? '0' + local : '+234' + local;
}

export function ipAddress(r: Rng): string {
  return `${r.pick(IP_PREFIXES)}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

/** A street in the place's state, written either of the two ways people write them. */
export function streetAddress(place: Place, r: Rng): string {
  const no = r.int(1, 120);
  const suffix = r.chance(0.15) ? r.pick(['A', 'B', 'C']) : '';
  const street = r.pick(STREETS[place.state]);
  return r.chance(0.4) ? `No. ${no}${suffix}, ${street}` : `${no}${suffix} ${street}`;
}
